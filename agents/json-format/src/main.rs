//! `json-format`: validates a JSON document (RFC 8259) and pretty-prints it
//! with a 2-space indent, followed by a newline.
//!
//! The formatter only changes whitespace: object members keep their order
//! (duplicates included), and numbers and strings are copied exactly as
//! written (`1.0e3` stays `1.0e3`, `"\u00e9"` stays `"\u00e9"`). Empty objects
//! and arrays print as `{}` and `[]`. A leading UTF-8 byte order mark is
//! ignored.
//!
//! Invalid input exits with code 1 and one line on stderr:
//! `invalid JSON at line L column C: <reason>`, where lines and columns count
//! from 1 and columns count characters.

use agent_common::{EXIT_BAD_INPUT, fail, read_stdin, write_stdout};

/// Deepest nesting of arrays and objects accepted, to bound recursion.
const MAX_DEPTH: usize = 256;

fn main() {
    let input = read_stdin();
    match format(&input) {
        Ok(out) => write_stdout(out.as_bytes()),
        Err(e) => fail(EXIT_BAD_INPUT, e),
    }
}

/// A syntax error: byte offset into the input, and reason.
#[derive(Debug, PartialEq)]
struct Error {
    line: usize,
    column: usize,
    reason: String,
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "invalid JSON at line {} column {}: {}",
            self.line, self.column, self.reason
        )
    }
}

fn format(input: &[u8]) -> Result<String, Error> {
    let text = match std::str::from_utf8(input) {
        Ok(text) => text,
        Err(e) => {
            let valid = e.valid_up_to();
            // The valid prefix is UTF-8, so positions can be computed on it.
            let prefix = std::str::from_utf8(&input[..valid]).unwrap_or_default();
            let (line, column) = line_column(prefix, valid);
            return Err(Error {
                line,
                column,
                reason: "invalid UTF-8".into(),
            });
        }
    };
    let start = if text.starts_with('\u{feff}') { 3 } else { 0 };
    let mut p = Parser {
        text,
        bytes: text.as_bytes(),
        pos: start,
        out: String::with_capacity(text.len() * 2),
    };
    p.skip_ws();
    p.value(0).map_err(|reason| p.error(reason))?;
    p.skip_ws();
    if p.pos < p.bytes.len() {
        let c = p.current_char();
        return Err(p.error(format!("unexpected {} after the JSON value", describe(c))));
    }
    p.out.push('\n');
    Ok(p.out)
}

/// 1-based line and column (in characters) of byte offset `pos` in `text`.
fn line_column(text: &str, pos: usize) -> (usize, usize) {
    let before = &text[..pos];
    let line = before.bytes().filter(|&b| b == b'\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

fn describe(c: Option<char>) -> String {
    match c {
        None => "end of input".into(),
        Some(c) => format!("character {c:?}"),
    }
}

struct Parser<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
    out: String,
}

type Result<T, E = String> = std::result::Result<T, E>;

impl Parser<'_> {
    fn error(&self, reason: String) -> Error {
        let (line, column) = line_column(self.text, self.pos);
        Error {
            line,
            column,
            reason,
        }
    }

    fn current_char(&self) -> Option<char> {
        self.text[self.pos..].chars().next()
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    fn unexpected(&self, expected: &str) -> String {
        format!(
            "expected {expected}, found {}",
            describe(self.current_char())
        )
    }

    fn newline(&mut self, depth: usize) {
        self.out.push('\n');
        for _ in 0..depth {
            self.out.push_str("  ");
        }
    }

    /// Parses one value at the current position (whitespace already skipped)
    /// and appends its formatted form; `depth` is the current indent level.
    fn value(&mut self, depth: usize) -> Result<()> {
        match self.peek() {
            Some(b'{') => self.object(depth),
            Some(b'[') => self.array(depth),
            Some(b'"') => self.string(),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(b't') => self.literal("true"),
            Some(b'f') => self.literal("false"),
            Some(b'n') => self.literal("null"),
            _ => Err(self.unexpected("a value")),
        }
    }

    fn enter(depth: usize) -> Result<()> {
        if depth >= MAX_DEPTH {
            return Err(format!("nesting deeper than {MAX_DEPTH} levels"));
        }
        Ok(())
    }

    fn object(&mut self, depth: usize) -> Result<()> {
        Self::enter(depth)?;
        self.pos += 1;
        self.out.push('{');
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            self.out.push('}');
            return Ok(());
        }
        loop {
            self.newline(depth + 1);
            if self.peek() != Some(b'"') {
                return Err(self.unexpected("a string key"));
            }
            self.string()?;
            self.skip_ws();
            if self.peek() != Some(b':') {
                return Err(self.unexpected("':' after the object key"));
            }
            self.pos += 1;
            self.out.push_str(": ");
            self.skip_ws();
            self.value(depth + 1)?;
            self.skip_ws();
            match self.peek() {
                Some(b',') => {
                    self.pos += 1;
                    self.out.push(',');
                    self.skip_ws();
                }
                Some(b'}') => {
                    self.pos += 1;
                    self.newline(depth);
                    self.out.push('}');
                    return Ok(());
                }
                _ => return Err(self.unexpected("',' or '}' after the object member")),
            }
        }
    }

    fn array(&mut self, depth: usize) -> Result<()> {
        Self::enter(depth)?;
        self.pos += 1;
        self.out.push('[');
        self.skip_ws();
        if self.peek() == Some(b']') {
            self.pos += 1;
            self.out.push(']');
            return Ok(());
        }
        loop {
            self.newline(depth + 1);
            self.value(depth + 1)?;
            self.skip_ws();
            match self.peek() {
                Some(b',') => {
                    self.pos += 1;
                    self.out.push(',');
                    self.skip_ws();
                }
                Some(b']') => {
                    self.pos += 1;
                    self.newline(depth);
                    self.out.push(']');
                    return Ok(());
                }
                _ => return Err(self.unexpected("',' or ']' after the array element")),
            }
        }
    }

    fn literal(&mut self, word: &str) -> Result<()> {
        if self.bytes[self.pos..].starts_with(word.as_bytes()) {
            self.pos += word.len();
            self.out.push_str(word);
            Ok(())
        } else {
            Err(format!("invalid literal, expected `{word}`"))
        }
    }

    /// Copies a string literal verbatim after checking it.
    fn string(&mut self) -> Result<()> {
        let start = self.pos;
        self.pos += 1;
        loop {
            match self.peek() {
                None => {
                    self.pos = start;
                    return Err("unterminated string".into());
                }
                Some(b'"') => {
                    self.pos += 1;
                    break;
                }
                Some(b'\\') => {
                    self.pos += 1;
                    match self.peek() {
                        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => {
                            self.pos += 1
                        }
                        Some(b'u') => {
                            self.pos += 1;
                            for _ in 0..4 {
                                match self.peek() {
                                    Some(b) if b.is_ascii_hexdigit() => self.pos += 1,
                                    _ => {
                                        return Err(self
                                            .unexpected("a hexadecimal digit in the \\u escape"));
                                    }
                                }
                            }
                        }
                        _ => {
                            self.pos -= 1;
                            return Err("invalid escape sequence in string".into());
                        }
                    }
                }
                Some(b) if b < 0x20 => {
                    return Err(format!("unescaped control character U+{b:04X} in string"));
                }
                Some(_) => self.pos += 1,
            }
        }
        self.out.push_str(&self.text[start..self.pos]);
        Ok(())
    }

    /// Copies a number verbatim after checking its syntax.
    fn number(&mut self) -> Result<()> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => {
                self.pos += 1;
                if let Some(b'0'..=b'9') = self.peek() {
                    return Err("invalid number: leading zeros are not allowed".into());
                }
            }
            Some(b'1'..=b'9') => self.digits(),
            _ => return Err(self.unexpected("a digit")),
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return Err(self.unexpected("a digit after the decimal point"));
            }
            self.digits();
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return Err(self.unexpected("a digit in the exponent"));
            }
            self.digits();
        }
        self.out.push_str(&self.text[start..self.pos]);
        Ok(())
    }

    fn digits(&mut self) {
        while let Some(b'0'..=b'9') = self.peek() {
            self.pos += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(input: &str) -> String {
        format(input.as_bytes()).unwrap()
    }

    fn err(input: &str) -> String {
        format(input.as_bytes()).unwrap_err().to_string()
    }

    #[test]
    fn formats() {
        assert_eq!(
            ok(r#"{"a":[1,2,{}],"b":{"c":null},"d":[]}"#),
            "{\n  \"a\": [\n    1,\n    2,\n    {}\n  ],\n  \"b\": {\n    \"c\": null\n  },\n  \"d\": []\n}\n"
        );
        assert_eq!(ok(" 1.5e-3 "), "1.5e-3\n");
        assert_eq!(ok(r#""\u00e9\n""#), "\"\\u00e9\\n\"\n");
        assert_eq!(ok("\u{feff}[true,false]"), "[\n  true,\n  false\n]\n");
        assert_eq!(ok(r#"{"a":1,"a":2}"#), "{\n  \"a\": 1,\n  \"a\": 2\n}\n");
    }

    #[test]
    fn errors() {
        assert_eq!(
            err(""),
            "invalid JSON at line 1 column 1: expected a value, found end of input"
        );
        assert_eq!(
            err("{\"a\": 1,}"),
            "invalid JSON at line 1 column 9: expected a string key, found character '}'"
        );
        assert_eq!(
            err("[1,\n 2 3]"),
            "invalid JSON at line 2 column 4: expected ',' or ']' after the array element, found character '3'"
        );
        assert_eq!(
            err("01"),
            "invalid JSON at line 1 column 2: invalid number: leading zeros are not allowed"
        );
        assert_eq!(
            err("\"abc"),
            "invalid JSON at line 1 column 1: unterminated string"
        );
        assert_eq!(
            err("\"a\\x\""),
            "invalid JSON at line 1 column 3: invalid escape sequence in string"
        );
        assert_eq!(
            err("\"a\tb\""),
            "invalid JSON at line 1 column 3: unescaped control character U+0009 in string"
        );
        assert_eq!(
            err("{} x"),
            "invalid JSON at line 1 column 4: unexpected character 'x' after the JSON value"
        );
        assert_eq!(
            err("nul"),
            "invalid JSON at line 1 column 1: invalid literal, expected `null`"
        );
        assert_eq!(
            err("True"),
            "invalid JSON at line 1 column 1: expected a value, found character 'T'"
        );
        assert_eq!(
            err("1."),
            "invalid JSON at line 1 column 3: expected a digit after the decimal point, found end of input"
        );
        assert_eq!(
            err("é x"),
            "invalid JSON at line 1 column 1: expected a value, found character 'é'"
        );
        assert_eq!(
            format(b"[\"\xff\"]").unwrap_err().to_string(),
            "invalid JSON at line 1 column 3: invalid UTF-8"
        );
        let deep = "[".repeat(MAX_DEPTH + 1);
        assert!(err(&deep).ends_with("nesting deeper than 256 levels"));
        assert!(
            format(format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH)).as_bytes())
                .is_ok()
        );
    }
}
