//! `text-stats`: counts lines, words, characters and bytes of a UTF-8 text and
//! lists its ten most frequent words.
//!
//! Definitions:
//! - lines: the number of `\n`, plus one if the text does not end with `\n`
//!   (so `"a"` and `"a\n"` both have one line, and the empty text has none);
//! - a word is a maximal run of Unicode letters and digits, where a single
//!   `'`, `’` or `-` between two letters or digits belongs to the word
//!   (`don't`, `well-known`);
//! - characters: Unicode scalar values; bytes: UTF-8 bytes;
//! - top words are lowercased and ordered by count (descending), then by word
//!   (ascending, by code point).
//!
//! Output is a JSON object (2-space indent) followed by a newline.

// BTreeMap rather than HashMap: HashMap's random seed would need WASI
// `random_get`, which the sandbox need not grant.
use std::collections::BTreeMap;
use std::fmt::Write as _;

use agent_common::{push_json_string, read_stdin_utf8, write_stdout};

const TOP: usize = 10;

fn main() {
    let text = read_stdin_utf8();
    write_stdout(stats(&text).as_bytes());
}

fn stats(text: &str) -> String {
    let newlines = text.bytes().filter(|&b| b == b'\n').count();
    let lines = newlines + usize::from(!text.is_empty() && !text.ends_with('\n'));

    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    let mut words = 0usize;
    for word in Words::new(text) {
        words += 1;
        *counts.entry(word.to_lowercase()).or_default() += 1;
    }
    let unique = counts.len();
    let mut top: Vec<(String, usize)> = counts.into_iter().collect();
    top.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    top.truncate(TOP);

    let mut out = String::new();
    out.push_str("{\n");
    let _ = writeln!(out, "  \"lines\": {lines},");
    let _ = writeln!(out, "  \"words\": {words},");
    let _ = writeln!(out, "  \"unique_words\": {unique},");
    let _ = writeln!(out, "  \"characters\": {},", text.chars().count());
    let _ = writeln!(out, "  \"bytes\": {},", text.len());
    if top.is_empty() {
        out.push_str("  \"top_words\": []\n");
    } else {
        out.push_str("  \"top_words\": [\n");
        for (i, (word, count)) in top.iter().enumerate() {
            out.push_str("    {\"word\": ");
            push_json_string(&mut out, word);
            let _ = write!(out, ", \"count\": {count}}}");
            out.push_str(if i + 1 < top.len() { ",\n" } else { "\n" });
        }
        out.push_str("  ]\n");
    }
    out.push_str("}\n");
    out
}

/// Iterator over the words of a text (see the module docs).
struct Words<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Words<'a> {
    fn new(text: &'a str) -> Self {
        Words { text, pos: 0 }
    }
}

fn is_joiner(c: char) -> bool {
    matches!(c, '\'' | '\u{2019}' | '-')
}

impl<'a> Iterator for Words<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let rest = &self.text[self.pos..];
        let start = self.pos + rest.find(char::is_alphanumeric)?;
        let mut end = start;
        let mut chars = self.text[start..].chars().peekable();
        while let Some(c) = chars.next() {
            if c.is_alphanumeric() {
                end += c.len_utf8();
            } else if is_joiner(c) && chars.peek().is_some_and(|n| n.is_alphanumeric()) {
                // The joiner is kept together with the next character.
                let n = chars.next().unwrap_or(c);
                end += c.len_utf8() + n.len_utf8();
            } else {
                break;
            }
        }
        self.pos = end;
        Some(&self.text[start..end])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<&str> {
        Words::new(s).collect()
    }

    #[test]
    fn splits_words() {
        assert_eq!(
            words("Don't stop -- well-known, 42x! 'quoted'"),
            ["Don't", "stop", "well-known", "42x", "quoted"]
        );
        assert_eq!(words("naïve café 日本"), ["naïve", "café", "日本"]);
        assert!(words("  ,.- ").is_empty());
    }

    #[test]
    fn empty_input() {
        assert_eq!(
            stats(""),
            "{\n  \"lines\": 0,\n  \"words\": 0,\n  \"unique_words\": 0,\n  \"characters\": 0,\n  \"bytes\": 0,\n  \"top_words\": []\n}\n"
        );
    }

    #[test]
    fn orders_by_count_then_word() {
        let out = stats("b a b c a b\n");
        assert!(out.contains("\"lines\": 1,"));
        let b = out.find("\"b\"").unwrap();
        let a = out.find("\"a\"").unwrap();
        let c = out.find("\"c\"").unwrap();
        assert!(b < a && a < c);
    }
}
