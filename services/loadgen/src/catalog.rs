//! A synthetic marketplace: agents whose words follow a Zipf-like law, as words of real text
//! do, so that a search benchmark meets every kind of term.
//!
//! Descriptions draw words by rank from one vocabulary: a head of real words about what agents
//! do, then a long tail of made-up words (the product names and jargon of a real catalog).
//! With frequency proportional to 1/rank, the first word (`data`) lands in most descriptions,
//! head words of rank 30 to 150 in a few percent of agents each, and tail words in a handful.
//! [`TermClass`] names terms of each kind from the same ranks; the search benchmark reports
//! how many agents each term actually matched, so the classes can be checked rather than
//! trusted.
//!
//! Agent `index` is drawn from its own seeded generator, so a catalog is the same whatever
//! the order or concurrency in which it is produced.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Words about what agents do, most frequent first: the head of the vocabulary.
const HEAD_WORDS: &[&str] = &[
    "data",
    "text",
    "file",
    "convert",
    "format",
    "json",
    "parse",
    "input",
    "output",
    "fast",
    "simple",
    "image",
    "document",
    "report",
    "validate",
    "extract",
    "summary",
    "csv",
    "markdown",
    "html",
    "language",
    "records",
    "clean",
    "transform",
    "analyze",
    "generate",
    "check",
    "query",
    "schema",
    "table",
    "batch",
    "stream",
    "log",
    "metrics",
    "email",
    "address",
    "date",
    "time",
    "number",
    "currency",
    "translate",
    "english",
    "spanish",
    "french",
    "german",
    "sentiment",
    "keyword",
    "entity",
    "classify",
    "tag",
    "label",
    "score",
    "rank",
    "search",
    "index",
    "filter",
    "sort",
    "merge",
    "split",
    "compress",
    "decompress",
    "encode",
    "decode",
    "base64",
    "hash",
    "checksum",
    "encrypt",
    "sign",
    "verify",
    "token",
    "url",
    "domain",
    "ip",
    "geo",
    "map",
    "route",
    "weather",
    "calendar",
    "invoice",
    "receipt",
    "ledger",
    "tax",
    "payroll",
    "budget",
    "forecast",
    "statistics",
    "mean",
    "median",
    "histogram",
    "chart",
    "plot",
    "xml",
    "yaml",
    "toml",
    "sql",
    "regex",
    "template",
    "render",
    "minify",
    "lint",
    "diff",
    "patch",
    "version",
    "semver",
    "changelog",
    "license",
    "audit",
    "security",
    "secret",
    "password",
    "policy",
    "compliance",
    "privacy",
    "redact",
    "anonymize",
    "mask",
    "phone",
    "postal",
    "country",
    "unit",
    "temperature",
    "distance",
    "color",
    "palette",
    "font",
    "emoji",
    "unicode",
    "ascii",
    "utf8",
    "whitespace",
    "newline",
    "tabular",
    "spreadsheet",
    "pdf",
    "docx",
    "slides",
    "barcode",
    "qrcode",
    "thumbnail",
    "resize",
    "crop",
    "rotate",
    "grayscale",
    "watermark",
    "audio",
    "transcript",
    "subtitle",
    "caption",
    "video",
    "frame",
    "playlist",
    "music",
    "lyrics",
    "recipe",
    "nutrition",
    "calorie",
    "fitness",
    "health",
    "medical",
    "legal",
    "contract",
    "clause",
    "citation",
    "bibliography",
    "academic",
    "paper",
    "abstract",
    "headline",
    "news",
    "feed",
    "rss",
    "sitemap",
    "crawler",
    "scraper",
    "seo",
    "ads",
    "campaign",
    "marketing",
    "customer",
    "ticket",
    "support",
    "chat",
    "reply",
    "greeting",
    "poem",
    "story",
    "joke",
    "riddle",
    "quiz",
    "trivia",
    "puzzle",
    "sudoku",
    "chess",
    "dice",
    "random",
    "uuid",
    "nanoid",
    "slug",
    "camelcase",
    "snakecase",
    "kebab",
    "pluralize",
    "stemmer",
    "lemma",
    "grammar",
    "spelling",
    "readability",
    "wordcount",
    "anagram",
    "palindrome",
    "cipher",
    "morse",
    "binary",
    "hexadecimal",
    "octal",
    "roman",
    "numeral",
    "fraction",
    "matrix",
    "vector",
    "polynomial",
    "prime",
    "fibonacci",
    "factorial",
    "graph",
    "tree",
    "queue",
    "stack",
];

/// Syllables of the made-up tail words: every tail word is three of them, so no tail word is
/// a prefix of another.
const SYLLABLES: &[&str] = &[
    "ba", "be", "bo", "da", "de", "do", "fa", "fe", "fo", "ga", "ge", "go", "ka", "ke", "ko", "la",
    "le", "lo", "ma", "me", "mo", "na", "ne", "no", "pa", "pe", "po", "ra", "re", "ro", "sa", "se",
    "so", "ta", "te", "to", "va", "ve", "vo", "za",
];

/// Capability tags, most frequent first.
const CAPABILITIES: &[&str] = &[
    "text",
    "json",
    "formatting",
    "conversion",
    "parsing",
    "validation",
    "csv",
    "analysis",
    "nlp",
    "translation",
    "math",
    "encoding",
    "security",
    "finance",
    "images",
    "audio",
    "video",
    "web",
    "markdown",
    "html",
    "xml",
    "yaml",
    "sql",
    "statistics",
    "summarization",
    "classification",
    "search",
    "compression",
    "crypto",
    "datetime",
    "geo",
    "email",
    "pdf",
    "spreadsheet",
    "logging",
    "metrics",
    "testing",
    "education",
    "games",
    "health",
    "legal",
    "marketing",
    "support",
    "music",
    "weather",
    "calendar",
    "random",
    "utilities",
];

/// Words of agent names: a name is two of them, so names repeat across owners and versions
/// as they do in a real marketplace.
const NAME_WORDS: &[&str] = &[
    "json",
    "csv",
    "text",
    "pdf",
    "image",
    "log",
    "date",
    "email",
    "url",
    "sql",
    "yaml",
    "xml",
    "markdown",
    "html",
    "invoice",
    "report",
    "audio",
    "video",
    "chart",
    "hash",
    "token",
    "geo",
    "tax",
    "news",
    "chat",
    "quiz",
    "color",
    "unit",
    "phone",
    "regex",
    "format",
    "parse",
    "convert",
    "clean",
    "check",
    "extract",
    "summarize",
    "translate",
    "validate",
    "render",
    "lint",
    "diff",
    "merge",
    "split",
    "sort",
    "filter",
    "count",
    "scan",
    "tool",
    "kit",
    "pro",
    "lite",
    "helper",
    "bot",
    "engine",
    "studio",
    "wizard",
    "forge",
    "mill",
    "press",
];

/// Tail words after the head: the vocabulary has this many words in all.
const VOCABULARY_SIZE: usize = 20_000;

/// The Zipf exponent of description words.
const WORD_EXPONENT: f64 = 1.0;

/// The vocabulary word of `rank` (0 is the most frequent).
pub fn word(rank: usize) -> String {
    if let Some(head) = HEAD_WORDS.get(rank) {
        return (*head).to_owned();
    }
    let tail = rank - HEAD_WORDS.len();
    let count = SYLLABLES.len();
    format!(
        "{}{}{}",
        SYLLABLES[tail % count],
        SYLLABLES[(tail / count) % count],
        SYLLABLES[(tail / (count * count)) % count]
    )
}

/// Draws ranks 0..n with probability proportional to 1/(rank + 1)^exponent.
struct Zipf {
    cumulative: Vec<f64>,
}

impl Zipf {
    fn new(n: usize, exponent: f64) -> Self {
        let mut total = 0.0;
        let cumulative = (1..=n)
            .map(|rank| {
                total += 1.0 / (rank as f64).powf(exponent);
                total
            })
            .collect();
        Zipf { cumulative }
    }

    fn sample(&self, random: &mut StdRng) -> usize {
        let total = self.cumulative.last().copied().unwrap_or(0.0);
        let target = random.r#gen::<f64>() * total;
        self.cumulative
            .partition_point(|&cumulative| cumulative <= target)
            .min(self.cumulative.len() - 1)
    }
}

/// The fields of one synthetic agent, as plain values; the seeder turns them into a
/// `NewAgent`.
#[derive(Debug, Clone)]
pub struct SyntheticAgent {
    pub name: String,
    pub description: String,
    pub capabilities: Vec<String>,
    pub price_cents: i64,
    pub binary_size: i64,
    pub patch: u32,
}

/// Produces agents of a seeded catalog.
pub struct Catalog {
    seed: u64,
    vocabulary: Vec<String>,
    words: Zipf,
    capabilities: Zipf,
}

impl Catalog {
    pub fn new(seed: u64) -> Self {
        Catalog {
            seed,
            vocabulary: (0..VOCABULARY_SIZE).map(word).collect(),
            words: Zipf::new(VOCABULARY_SIZE, WORD_EXPONENT),
            capabilities: Zipf::new(CAPABILITIES.len(), 1.1),
        }
    }

    /// Agent number `index` of this catalog.
    pub fn agent(&self, index: u64) -> SyntheticAgent {
        let mut random =
            StdRng::seed_from_u64(self.seed ^ index.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let name = format!(
            "{}-{}",
            NAME_WORDS[random.gen_range(0..NAME_WORDS.len())],
            NAME_WORDS[random.gen_range(0..NAME_WORDS.len())]
        );

        let length = random.gen_range(12..=28);
        let mut description = String::new();
        let mut sentence_length = 0;
        for position in 0..length {
            let word = &self.vocabulary[self.words.sample(&mut random)];
            if sentence_length == 0 {
                if position > 0 {
                    description.push(' ');
                }
                let mut characters = word.chars();
                if let Some(first) = characters.next() {
                    description.extend(first.to_uppercase());
                    description.push_str(characters.as_str());
                }
            } else {
                description.push(' ');
                description.push_str(word);
            }
            sentence_length += 1;
            if sentence_length >= 6 && (random.gen_bool(0.3) || position + 1 == length) {
                description.push('.');
                sentence_length = 0;
            }
        }
        if sentence_length > 0 {
            description.push('.');
        }

        let mut capabilities: Vec<String> = Vec::new();
        for _ in 0..random.gen_range(1..=4) {
            let tag = CAPABILITIES[self.capabilities.sample(&mut random)];
            if !capabilities.iter().any(|existing| existing == tag) {
                capabilities.push(tag.to_owned());
            }
        }

        // A quarter are free; the rest cost from a cent to five dollars, cheap ones likelier.
        let price_cents = if random.gen_bool(0.25) {
            0
        } else {
            (random.r#gen::<f64>() * 500f64.ln()).exp().round() as i64
        };
        SyntheticAgent {
            name,
            description,
            capabilities,
            price_cents,
            binary_size: random.gen_range(20_000..4_000_000),
            patch: random.gen_range(0..10),
        }
    }
}

/// A kind of search term, by how many agents it matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TermClass {
    /// Tail words, each in a few dozen agents of 100,000.
    Rare,
    /// Head words of rank 100 on that are neither name words nor capabilities, each in about
    /// one percent of agents.
    Typical,
    /// The two most frequent words, in most agents.
    Common,
    /// Two typical words at once: every word must match, so few agents do.
    TwoWords,
}

impl TermClass {
    /// The name the command line and the reports use.
    pub fn label(self) -> &'static str {
        match self {
            TermClass::Rare => "rare",
            TermClass::Typical => "typical",
            TermClass::Common => "common",
            TermClass::TwoWords => "two-words",
        }
    }

    /// The queries of this class, sent in turn.
    pub fn queries(self) -> Vec<String> {
        match self {
            TermClass::Rare => (0..10)
                .map(|step| word(HEAD_WORDS.len() + 4_000 + step * 1_500))
                .collect(),
            TermClass::Typical => typical_words(),
            TermClass::Common => vec![word(0), word(1)],
            TermClass::TwoWords => {
                let typical = typical_words();
                typical
                    .iter()
                    .zip(typical.iter().cycle().skip(1))
                    .map(|(first, second)| format!("{first} {second}"))
                    .collect()
            }
        }
    }
}

/// Ten head words of rank 100 on, spread over the rest of the head, that no name or capability
/// uses: each is in about 1% of descriptions and nowhere else.
fn typical_words() -> Vec<String> {
    let candidates: Vec<&str> = HEAD_WORDS[100..]
        .iter()
        .copied()
        .filter(|word| !NAME_WORDS.contains(word) && !CAPABILITIES.contains(word))
        .collect();
    let step = candidates.len() / 10;
    candidates
        .iter()
        .step_by(step.max(1))
        .take(10)
        .map(|word| (*word).to_owned())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_and_index_give_the_same_agent() {
        let first = Catalog::new(7).agent(42);
        let second = Catalog::new(7).agent(42);
        assert_eq!(first.name, second.name);
        assert_eq!(first.description, second.description);
        assert_eq!(first.capabilities, second.capabilities);
    }

    #[test]
    fn every_vocabulary_word_is_distinct() {
        let mut words: Vec<String> = (0..VOCABULARY_SIZE).map(word).collect();
        words.sort_unstable();
        words.dedup();
        assert_eq!(words.len(), VOCABULARY_SIZE);
    }

    #[test]
    fn every_synthetic_agent_is_valid_for_the_domain() {
        let catalog = Catalog::new(1);
        for index in 0..2_000 {
            let agent = catalog.agent(index);
            bazaar_domain::AgentName::parse(&agent.name).expect("a valid name");
            bazaar_domain::Capabilities::parse(&agent.capabilities).expect("valid capabilities");
            bazaar_domain::Price::from_cents(agent.price_cents).expect("a valid price");
            assert!(!agent.description.is_empty());
        }
    }

    #[test]
    fn the_most_frequent_word_is_in_most_descriptions() {
        let catalog = Catalog::new(1);
        let common = word(0);
        let containing = (0..2_000)
            .filter(|index| {
                catalog
                    .agent(*index)
                    .description
                    .to_lowercase()
                    .split(|character: char| !character.is_alphanumeric())
                    .any(|found| found == common)
            })
            .count();
        assert!(containing > 1_500, "{containing} of 2000");
    }
}
