//! `markdown-html`: renders Markdown as an HTML fragment.
//!
//! CommonMark, plus the GitHub-style extensions tables, strikethrough
//! (`~~x~~`) and task lists (`- [x] done`). Raw HTML in the input is passed
//! through as CommonMark specifies: the output is not sanitized. Input must
//! be UTF-8 (exit 1 otherwise).

use agent_common::{read_stdin_utf8, write_stdout};
use pulldown_cmark::{Options, Parser, html};

fn main() {
    let text = read_stdin_utf8();
    write_stdout(render(&text).as_bytes());
}

fn render(markdown: &str) -> String {
    let options =
        Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TASKLISTS;
    let mut out = String::with_capacity(markdown.len() * 3 / 2);
    html::push_html(&mut out, Parser::new_ext(markdown, options));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders() {
        assert_eq!(
            render("# Hi\n\n*a* ~~b~~\n"),
            "<h1>Hi</h1>\n<p><em>a</em> <del>b</del></p>\n"
        );
        assert_eq!(render(""), "");
    }
}
