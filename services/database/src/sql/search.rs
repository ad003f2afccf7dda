//! A search as both databases run it: the words a user typed, and how many matches are
//! ranked to serve a page.

/// The most words of a query that are searched for; the rest are ignored.
const MOST_WORDS: usize = 16;

/// Above this many matches a search ranks only the most recently published ones: ranking
/// every match of a word found in most of 100,000 agents takes a tenth of a second or more,
/// the most recent 10,000 a few milliseconds. Below it, which is every query but the
/// broadest, the ranking is exact. So is SQLite's total, always; PostgreSQL's is the
/// planner's estimate above it, since counting every match costs as much as ranking it.
const RANKING_WINDOW: i64 = 10_000;

/// One page of a search: the words of the query, every one of which a match must have as a
/// prefix of one of its own, and which of the ranked matches to show. Words are runs of
/// letters and digits, lowercased; everything else separates them, so nothing a user types
/// is query syntax in either database (FTS5's `"…"*`, tsquery's `:*`, `&`, `|`, `!`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Search {
    words: Vec<String>,
    pub(crate) limit: u32,
    pub(crate) offset: u32,
}

impl Search {
    /// `None` when `query` has no words: such a query finds nothing.
    pub(crate) fn parse(query: &str, limit: u32, offset: u32) -> Option<Self> {
        let words: Vec<String> = query
            .split(|character: char| !character.is_alphanumeric())
            .filter(|word| !word.is_empty())
            .take(MOST_WORDS)
            .map(str::to_lowercase)
            .collect();
        (!words.is_empty()).then_some(Search {
            words,
            limit,
            offset,
        })
    }

    /// The words as a dialect's prefix terms, `separator` between them.
    pub(crate) fn prefix_terms(&self, term: impl Fn(&str) -> String, separator: &str) -> String {
        let terms: Vec<String> = self.words.iter().map(|word| term(word)).collect();
        terms.join(separator)
    }

    /// How many of the most recent matches are ranked to serve the page: the whole window,
    /// or more when the page reaches past it.
    pub(crate) fn ranking_window(&self) -> i64 {
        RANKING_WINDOW.max(i64::from(self.offset) + i64::from(self.limit))
    }
}

#[cfg(test)]
mod tests {
    use super::Search;

    fn words(query: &str) -> Option<Vec<String>> {
        Search::parse(query, 20, 0).map(|search| search.words)
    }

    #[test]
    fn words_are_runs_of_letters_and_digits_lowercased() {
        assert_eq!(
            words("JSON-format, v2 Überprüfung").unwrap(),
            ["json", "format", "v2", "überprüfung"]
        );
    }

    #[test]
    fn query_syntax_of_either_database_separates_words() {
        assert_eq!(
            words("json:* | !(csv) <-> 'x' \"y\"* NEAR(a b)").unwrap(),
            ["json", "csv", "x", "y", "near", "a", "b"]
        );
    }

    #[test]
    fn a_query_without_letters_or_digits_has_no_words() {
        assert_eq!(words(" &|!*:()\"' "), None);
        assert_eq!(words(""), None);
    }

    #[test]
    fn only_the_first_sixteen_words_are_searched() {
        let query: Vec<String> = (0..20).map(|number| format!("w{number}")).collect();
        assert_eq!(words(&query.join(" ")).unwrap().len(), 16);
    }

    #[test]
    fn a_page_past_the_window_widens_it() {
        let window = |limit, offset| {
            Search::parse("json", limit, offset)
                .unwrap()
                .ranking_window()
        };
        assert_eq!(window(20, 0), 10_000);
        assert_eq!(window(20, 9_990), 10_010);
    }
}
