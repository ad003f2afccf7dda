//! `base64`: encodes or decodes Base64 (RFC 4648).
//!
//! The first line of the input is the mode, the rest (everything after the
//! first `\n`) is the data:
//!
//! - `encode`: the data bytes, exactly as given (a trailing line break in the
//!   data is encoded too), become standard Base64 with `=` padding, printed as
//!   one line followed by `\n`;
//! - `encode-url`: the same with the URL-safe alphabet (`-`, `_`) and no
//!   padding;
//! - `decode`: the data is Base64 in either alphabet, padded or not; ASCII
//!   whitespace anywhere in it (line wrapping, a final newline) is ignored. The
//!   decoded bytes are written as they are, with nothing added.
//!
//! The mode is matched ignoring ASCII case and surrounding whitespace (so a
//! CRLF line end works). An unknown mode exits with code 2; invalid Base64
//! exits with code 1.

use agent_common::{EXIT_BAD_INPUT, EXIT_USAGE, fail, read_stdin, write_stdout};

const STANDARD: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const URL_SAFE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

fn main() {
    let input = read_stdin();
    let (mode, data) = match input.iter().position(|&b| b == b'\n') {
        Some(i) => (&input[..i], &input[i + 1..]),
        None => (&input[..], &[][..]),
    };
    match mode.trim_ascii().to_ascii_lowercase().as_slice() {
        b"encode" => write_stdout(&encode(data, STANDARD, true)),
        b"encode-url" => write_stdout(&encode(data, URL_SAFE, false)),
        b"decode" => match decode(data) {
            Ok(bytes) => write_stdout(&bytes),
            Err(e) => fail(EXIT_BAD_INPUT, e),
        },
        other => fail(
            EXIT_USAGE,
            format_args!(
                "the first line must be `encode`, `encode-url` or `decode`, found {:?}",
                String::from_utf8_lossy(other)
            ),
        ),
    }
}

/// Base64 of `data` followed by a newline.
fn encode(data: &[u8], alphabet: &[u8; 64], pad: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len().div_ceil(3) * 4 + 1);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        let sextets = [n >> 18, n >> 12, n >> 6, n].map(|s| alphabet[(s & 63) as usize]);
        let keep = chunk.len() + 1;
        out.extend_from_slice(&sextets[..keep]);
        if pad {
            out.extend(std::iter::repeat_n(b'=', 4 - keep));
        }
    }
    out.push(b'\n');
    out
}

fn sextet(b: u8) -> Option<u32> {
    Some(u32::from(match b {
        b'A'..=b'Z' => b - b'A',
        b'a'..=b'z' => b - b'a' + 26,
        b'0'..=b'9' => b - b'0' + 52,
        b'+' | b'-' => 62,
        b'/' | b'_' => 63,
        _ => return None,
    }))
}

fn decode(data: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(data.len() / 4 * 3 + 3);
    let (mut acc, mut bits, mut symbols, mut pads) = (0u32, 0u32, 0usize, 0usize);
    for (offset, &b) in data.iter().enumerate() {
        if b.is_ascii_whitespace() {
            continue;
        }
        if b == b'=' {
            pads += 1;
            continue;
        }
        let Some(v) = sextet(b).filter(|_| pads == 0) else {
            let what = if pads > 0 && sextet(b).is_some() {
                "data after `=` padding".to_owned()
            } else if b.is_ascii() {
                format!("character {:?}", b as char)
            } else {
                format!("byte 0x{b:02X}")
            };
            return Err(format!(
                "invalid Base64: {what} at offset {offset} of the data"
            ));
        };
        symbols += 1;
        acc = acc << 6 | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    if symbols % 4 == 1 {
        return Err(format!(
            "invalid Base64: {symbols} symbols cannot encode whole bytes"
        ));
    }
    if pads > 0 && (pads > 2 || (symbols + pads) % 4 != 0) {
        return Err(format!(
            "invalid Base64: wrong padding ({pads} `=` after {symbols} symbols)"
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc4648_vectors() {
        for (plain, coded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(
                encode(plain.as_bytes(), STANDARD, true),
                format!("{coded}\n").into_bytes()
            );
            assert_eq!(decode(coded.as_bytes()).unwrap(), plain.as_bytes());
            let bare = coded.trim_end_matches('=');
            assert_eq!(
                encode(plain.as_bytes(), URL_SAFE, false),
                format!("{bare}\n").into_bytes()
            );
            assert_eq!(decode(bare.as_bytes()).unwrap(), plain.as_bytes());
        }
    }

    #[test]
    fn alphabets_and_whitespace() {
        assert_eq!(encode(&[0xfb, 0xff], STANDARD, true), b"+/8=\n");
        assert_eq!(encode(&[0xfb, 0xff], URL_SAFE, false), b"-_8\n");
        assert_eq!(decode(b"-_8").unwrap(), [0xfb, 0xff]);
        assert_eq!(decode(b" Zm9v\r\nYmFy\n").unwrap(), b"foobar");
    }

    #[test]
    fn errors() {
        assert_eq!(
            decode(b"Zm9v!").unwrap_err(),
            "invalid Base64: character '!' at offset 4 of the data"
        );
        assert_eq!(
            decode("Zé".as_bytes()).unwrap_err(),
            "invalid Base64: byte 0xC3 at offset 1 of the data"
        );
        assert_eq!(
            decode(b"Zg==Zg").unwrap_err(),
            "invalid Base64: data after `=` padding at offset 4 of the data"
        );
        assert_eq!(
            decode(b"Zm9vY").unwrap_err(),
            "invalid Base64: 5 symbols cannot encode whole bytes"
        );
        assert_eq!(
            decode(b"Zg=").unwrap_err(),
            "invalid Base64: wrong padding (1 `=` after 2 symbols)"
        );
        assert_eq!(
            decode(b"Zm9v=").unwrap_err(),
            "invalid Base64: wrong padding (1 `=` after 4 symbols)"
        );
    }
}
