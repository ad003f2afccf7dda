//! `csv-to-json`: converts CSV with a header row into a JSON array of objects.
//!
//! Parsing follows RFC 4180: fields are separated by `,` and records by CRLF
//! or LF; a field in double quotes may contain commas, line breaks and quotes
//! written as `""`. Being lenient where the RFC is silent: a `"` inside an
//! unquoted field is kept as a literal character, empty lines are skipped, a
//! final line break is optional, and a leading UTF-8 byte order mark is
//! ignored. No field is trimmed and every value is a JSON string.
//!
//! The header row gives the keys, in order; each following record becomes one
//! object, printed on its own line inside the array:
//!
//! ```text
//! [
//!   {"name": "Ada", "born": "1815"},
//!   {"name": "Alan", "born": "1912"}
//! ]
//! ```
//!
//! Exits with code 1 and one line on stderr for empty input, a duplicated
//! column name, an unterminated quoted field, text after a closing quote, or a
//! data row whose field count differs from the header's (data rows are
//! numbered from 1, after the header; lines from 1, counting every line).

use agent_common::{EXIT_BAD_INPUT, fail, push_json_string, read_stdin_utf8, write_stdout};

fn main() {
    let text = read_stdin_utf8();
    match convert(&text) {
        Ok(json) => write_stdout(json.as_bytes()),
        Err(e) => fail(EXIT_BAD_INPUT, e),
    }
}

fn convert(text: &str) -> Result<String, String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut records = Records {
        bytes: text.as_bytes(),
        text,
        pos: 0,
        line: 1,
    };
    let Some(header) = records.next_record()? else {
        return Err("input is empty: expected a header row".into());
    };
    for (i, name) in header.fields.iter().enumerate() {
        if header.fields[..i].contains(name) {
            let mut quoted = String::new();
            push_json_string(&mut quoted, name);
            return Err(format!("duplicate column name {quoted} in the header"));
        }
    }
    let mut out = String::from("[");
    let mut row = 0usize;
    while let Some(record) = records.next_record()? {
        row += 1;
        if record.fields.len() != header.fields.len() {
            return Err(format!(
                "data row {row} (line {}) has {} field{} but the header has {}",
                record.line,
                record.fields.len(),
                if record.fields.len() == 1 { "" } else { "s" },
                header.fields.len()
            ));
        }
        out.push_str(if row == 1 { "\n  {" } else { ",\n  {" });
        for (i, (key, value)) in header.fields.iter().zip(&record.fields).enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            push_json_string(&mut out, key);
            out.push_str(": ");
            push_json_string(&mut out, value);
        }
        out.push('}');
    }
    out.push_str(if row == 0 { "]\n" } else { "\n]\n" });
    Ok(out)
}

struct Record {
    fields: Vec<String>,
    /// Line on which the record starts.
    line: usize,
}

struct Records<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
    line: usize,
}

impl Records<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    /// Consumes a line break (LF or CRLF) at the current position, if any.
    fn line_break(&mut self) -> bool {
        match self.peek() {
            Some(b'\n') => self.pos += 1,
            Some(b'\r') if self.bytes.get(self.pos + 1) == Some(&b'\n') => self.pos += 2,
            _ => return false,
        }
        self.line += 1;
        true
    }

    fn next_record(&mut self) -> Result<Option<Record>, String> {
        while self.line_break() {}
        if self.pos >= self.bytes.len() {
            return Ok(None);
        }
        let line = self.line;
        let mut fields = Vec::new();
        loop {
            fields.push(self.field()?);
            if self.peek() == Some(b',') {
                self.pos += 1;
                continue;
            }
            // End of input or a line break ends the record.
            self.line_break();
            return Ok(Some(Record { fields, line }));
        }
    }

    /// Reads one field, leaving the position on the `,`, the line break or
    /// the end of input that follows it.
    fn field(&mut self) -> Result<String, String> {
        if self.peek() != Some(b'"') {
            let start = self.pos;
            while let Some(b) = self.peek() {
                if b == b','
                    || b == b'\n'
                    || (b == b'\r' && self.bytes.get(self.pos + 1) == Some(&b'\n'))
                {
                    break;
                }
                self.pos += 1;
            }
            return Ok(self.text[start..self.pos].to_owned());
        }
        let opened = self.line;
        self.pos += 1;
        let mut value = String::new();
        loop {
            let start = self.pos;
            let Some(len) = self.bytes[start..].iter().position(|&b| b == b'"') else {
                return Err(format!("line {opened}: unterminated quoted field"));
            };
            let chunk = &self.text[start..start + len];
            self.line += chunk.bytes().filter(|&b| b == b'\n').count();
            value.push_str(chunk);
            self.pos = start + len + 1;
            if self.peek() == Some(b'"') {
                value.push('"');
                self.pos += 1;
                continue;
            }
            break;
        }
        match self.peek() {
            None | Some(b',' | b'\n') => Ok(value),
            Some(b'\r') if self.bytes.get(self.pos + 1) == Some(&b'\n') => Ok(value),
            Some(_) => {
                let c = self.text[self.pos..].chars().next().unwrap_or('?');
                Err(format!(
                    "line {}: unexpected character {c:?} after a closing quote",
                    self.line
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts() {
        assert_eq!(
            convert("name,born\nAda,1815\r\nAlan,1912").unwrap(),
            "[\n  {\"name\": \"Ada\", \"born\": \"1815\"},\n  {\"name\": \"Alan\", \"born\": \"1912\"}\n]\n"
        );
        assert_eq!(
            convert("a,b\n\"x, \"\"y\"\"\",\"line1\nline2\"\n\n,5\" disk\n").unwrap(),
            "[\n  {\"a\": \"x, \\\"y\\\"\", \"b\": \"line1\\nline2\"},\n  {\"a\": \"\", \"b\": \"5\\\" disk\"}\n]\n"
        );
        assert_eq!(convert("\u{feff}only,header\n").unwrap(), "[]\n");
        assert_eq!(convert("a\n\"\"\n").unwrap(), "[\n  {\"a\": \"\"}\n]\n");
    }

    #[test]
    fn errors() {
        assert_eq!(
            convert("").unwrap_err(),
            "input is empty: expected a header row"
        );
        assert_eq!(
            convert("\n\r\n").unwrap_err(),
            "input is empty: expected a header row"
        );
        assert_eq!(
            convert("a,b\n1,2\n3\n").unwrap_err(),
            "data row 2 (line 3) has 1 field but the header has 2"
        );
        assert_eq!(
            convert("a,b\n\"x\ny\",2\n3,4,5\n").unwrap_err(),
            "data row 2 (line 4) has 3 fields but the header has 2"
        );
        assert_eq!(
            convert("a,b\n\"open,2\n").unwrap_err(),
            "line 2: unterminated quoted field"
        );
        assert_eq!(
            convert("a,b\n\"x\"y,2\n").unwrap_err(),
            "line 2: unexpected character 'y' after a closing quote"
        );
        assert_eq!(
            convert("a,b,a\n").unwrap_err(),
            "duplicate column name \"a\" in the header"
        );
    }
}
