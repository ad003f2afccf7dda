//! `hash`: digests of the input bytes, as a JSON object followed by a newline:
//!
//! ```text
//! {
//!   "bytes": 3,
//!   "sha256": "<64 hex digits>",
//!   "sha512": "<128 hex digits>"
//! }
//! ```
//!
//! Any input is accepted, binary included; hex digits are lowercase.

use agent_common::{push_hex, read_stdin, write_stdout};
use sha2::{Digest, Sha256, Sha512};

fn main() {
    let input = read_stdin();
    write_stdout(digests(&input).as_bytes());
}

fn digests(input: &[u8]) -> String {
    let mut out = format!("{{\n  \"bytes\": {},\n  \"sha256\": \"", input.len());
    push_hex(&mut out, &Sha256::digest(input));
    out.push_str("\",\n  \"sha512\": \"");
    push_hex(&mut out, &Sha512::digest(input));
    out.push_str("\"\n}\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vectors() {
        let out = digests(b"abc");
        assert!(out.starts_with("{\n  \"bytes\": 3,\n"));
        assert!(
            out.contains("\"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\"")
        );
        assert!(out.contains(
            "\"ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f\""
        ));
    }
}
