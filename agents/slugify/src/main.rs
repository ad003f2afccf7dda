//! `slugify`: turns each input line into a URL slug, one output line per
//! input line (each followed by `\n`).
//!
//! Letters are lowercased; Latin letters with diacritics and ligatures are
//! transliterated to ASCII (`é` → `e`, `ß` → `ss`, `Æ` → `ae`); other letters
//! and digits are kept as they are (lowercased), so `日本語` stays `日本語`.
//! Apostrophes and combining accents are dropped (`don't` → `dont`); every other run of characters
//! that are not letters or digits becomes one `-`, with none at either end.
//! A line with no letters or digits gives an empty line. Lines end at LF or
//! CRLF; the empty input gives empty output. Input must be UTF-8 (exit 1).

use agent_common::{read_stdin_utf8, write_stdout};

fn main() {
    let text = read_stdin_utf8();
    let mut out = String::with_capacity(text.len() + 1);
    for line in text.lines() {
        slugify_into(&mut out, line);
        out.push('\n');
    }
    write_stdout(out.as_bytes());
}

fn slugify_into(out: &mut String, line: &str) {
    let start = out.len();
    let mut pending_dash = false;
    for c in line.chars().flat_map(char::to_lowercase) {
        // Apostrophes, and combining diacritical marks (from decomposed
        // input, or from lowercasing `İ`), are dropped without a separator.
        if matches!(c, '\'' | '\u{2019}' | '\u{0300}'..='\u{036f}') {
            continue;
        }
        if !c.is_alphanumeric() {
            pending_dash = true;
            continue;
        }
        if pending_dash && out.len() > start {
            out.push('-');
        }
        pending_dash = false;
        match transliterate(c) {
            Some(ascii) => out.push_str(ascii),
            None => out.push(c),
        }
    }
}

/// ASCII for lowercase Latin letters with diacritics (Latin-1 Supplement and
/// Latin Extended-A) and common ligatures.
fn transliterate(c: char) -> Option<&'static str> {
    Some(match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' | 'ă' | 'ą' => "a",
        'æ' => "ae",
        'ç' | 'ć' | 'ĉ' | 'ċ' | 'č' => "c",
        'ď' | 'đ' | 'ð' => "d",
        'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ĕ' | 'ė' | 'ę' | 'ě' => "e",
        'ĝ' | 'ğ' | 'ġ' | 'ģ' => "g",
        'ĥ' | 'ħ' => "h",
        'ì' | 'í' | 'î' | 'ï' | 'ĩ' | 'ī' | 'ĭ' | 'į' | 'ı' => "i",
        'ĳ' => "ij",
        'ĵ' => "j",
        'ķ' | 'ĸ' => "k",
        'ĺ' | 'ļ' | 'ľ' | 'ŀ' | 'ł' => "l",
        'ñ' | 'ń' | 'ņ' | 'ň' | 'ŉ' | 'ŋ' => "n",
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ō' | 'ŏ' | 'ő' => "o",
        'œ' => "oe",
        'ŕ' | 'ŗ' | 'ř' => "r",
        'ś' | 'ŝ' | 'ş' | 'š' | 'ſ' => "s",
        'ß' => "ss",
        'ţ' | 'ť' | 'ŧ' => "t",
        'þ' => "th",
        'ù' | 'ú' | 'û' | 'ü' | 'ũ' | 'ū' | 'ŭ' | 'ů' | 'ű' | 'ų' => "u",
        'ŵ' => "w",
        'ý' | 'ÿ' | 'ŷ' => "y",
        'ź' | 'ż' | 'ž' => "z",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slug(s: &str) -> String {
        let mut out = String::new();
        slugify_into(&mut out, s);
        out
    }

    #[test]
    fn slugs() {
        assert_eq!(slug("Hello, World!"), "hello-world");
        assert_eq!(slug("  Don't Panic -- 42  "), "dont-panic-42");
        assert_eq!(
            slug("Crème Brûlée à la Straße"),
            "creme-brulee-a-la-strasse"
        );
        assert_eq!(slug("ÆØÅ İstanbul"), "aeoa-istanbul");
        assert_eq!(slug("日本語 テキスト"), "日本語-テキスト");
        assert_eq!(slug("!!!"), "");
        assert_eq!(slug("a_b.c"), "a-b-c");
        assert_eq!(slug("Cafe\u{301} au lait"), "cafe-au-lait");
    }
}
