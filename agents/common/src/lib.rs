//! Helpers shared by the example agents.
//!
//! Every agent follows the same contract: the whole task input arrives on
//! stdin, the result goes to stdout, a one-line diagnostic goes to stderr, and
//! the exit code is 0 on success, 1 on bad input and 2 on a usage error. The
//! agents run in a WASI preview-1 sandbox with no filesystem, environment,
//! arguments, network or clock, so nothing here touches any of those.

use std::fmt::Display;
use std::io::{self, Read, Write};
use std::process;

/// Exit code for input the agent cannot process.
pub const EXIT_BAD_INPUT: i32 = 1;
/// Exit code for input that does not follow the agent's documented format.
pub const EXIT_USAGE: i32 = 2;

/// Prints `message` as one line on stderr and exits with `code`.
pub fn fail(code: i32, message: impl Display) -> ! {
    let _ = io::stdout().flush();
    // One line, whatever the message contains.
    let text = message.to_string().replace(['\r', '\n'], " ");
    let _ = writeln!(io::stderr().lock(), "{text}");
    process::exit(code)
}

/// Reads all of stdin, exiting with code 1 if it cannot be read.
pub fn read_stdin() -> Vec<u8> {
    let mut input = Vec::new();
    if let Err(e) = io::stdin().lock().read_to_end(&mut input) {
        fail(EXIT_BAD_INPUT, format_args!("cannot read stdin: {e}"));
    }
    input
}

/// Reads all of stdin as UTF-8 text, exiting with code 1 if it is not.
pub fn read_stdin_utf8() -> String {
    match String::from_utf8(read_stdin()) {
        Ok(text) => text,
        Err(e) => fail(EXIT_BAD_INPUT, utf8_error_message(e.utf8_error())),
    }
}

/// The one-line message for input that is not UTF-8.
pub fn utf8_error_message(e: std::str::Utf8Error) -> String {
    format!(
        "input is not valid UTF-8 (invalid byte at offset {})",
        e.valid_up_to()
    )
}

/// Writes `bytes` to stdout and flushes, exiting with code 1 on failure.
pub fn write_stdout(bytes: &[u8]) {
    let mut out = io::stdout().lock();
    if let Err(e) = out.write_all(bytes).and_then(|()| out.flush()) {
        drop(out);
        fail(EXIT_BAD_INPUT, format_args!("cannot write stdout: {e}"));
    }
}

/// Appends `s` to `out` as a JSON string literal, quotes included.
///
/// Escapes `"`, `\` and control characters; everything else is kept as UTF-8.
pub fn push_json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                let n = c as usize;
                out.push_str("\\u00");
                out.push(HEX[n >> 4] as char);
                out.push(HEX[n & 15] as char);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Appends the lowercase hexadecimal form of `bytes` to `out`.
pub fn push_hex(out: &mut String, bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for &b in bytes {
        out.push(HEX[usize::from(b >> 4)] as char);
        out.push(HEX[usize::from(b & 15)] as char);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_string_escapes() {
        let mut out = String::new();
        push_json_string(&mut out, "a\"b\\c\nd\u{1}é");
        assert_eq!(out, r#""a\"b\\c\nd\u0001é""#);
    }

    #[test]
    fn hex() {
        let mut out = String::new();
        push_hex(&mut out, &[0, 0xab, 0xff]);
        assert_eq!(out, "00abff");
    }
}
