//! The example agents that ship with Bazaar.
//!
//! The agents themselves are small Rust programs in `agents/` at the top of
//! the repository, a Cargo workspace of their own built for `wasm32-wasip1`
//! by `agents/build.sh`. Their compiled modules are committed in
//! `agents/dist/` and embedded here with `include_bytes!`, so building Bazaar
//! needs neither the wasm target nor a network. The bazaar binary publishes
//! them to the marketplace on first start in embedded mode, so that a fresh
//! installation has agents to run straight away.
//!
//! Each agent reads its whole task input on stdin and writes its result to
//! stdout, with a one-line diagnostic on stderr; it exits with 0 on success, 1
//! on bad input and 2 on a usage error. The [`Example`]s of each agent are
//! real runs of the committed module: the expected stdout is exactly what it
//! prints. When an agent changes, rebuild `agents/dist/` and update its
//! examples here.

/// One example agent shipped with Bazaar.
#[derive(Clone, Copy)]
pub struct ExampleAgent {
    /// Marketplace name, e.g. "json-format".
    pub name: &'static str,
    pub description: &'static str,
    /// Semver version.
    pub version: &'static str,
    /// Capability tags, lowercase snake_case, e.g. &["json", "formatting"].
    pub capabilities: &'static [&'static str],
    /// Price per task in USD as a decimal string, e.g. "0.00" or "0.01".
    pub price: &'static str,
    /// The compiled module (wasm32-wasip1), from agents/dist.
    pub wasm: &'static [u8],
    /// Example runs: what a user sends and exactly what comes back.
    pub examples: &'static [Example],
}

/// One run of an example agent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Example {
    pub input: &'static str,
    pub expected_exit_code: i32,
    /// Exact expected stdout.
    pub expected_stdout: &'static str,
}

impl std::fmt::Debug for ExampleAgent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The module itself is summarised by its size.
        f.debug_struct("ExampleAgent")
            .field("name", &self.name)
            .field("version", &self.version)
            .field("capabilities", &self.capabilities)
            .field("price", &self.price)
            .field("wasm_bytes", &self.wasm.len())
            .field("examples", &self.examples.len())
            .finish_non_exhaustive()
    }
}

/// The example agents' version, the same for all of them (the `agents/`
/// workspace version).
const VERSION: &str = "1.0.0";

/// Every example agent, in the order they are published.
pub static EXAMPLE_AGENTS: &[ExampleAgent] = &[
    ExampleAgent {
        name: "echo",
        description: "Copies its input to its output unchanged. The trivial agent, useful to try the marketplace and to measure the runtime's own overhead.",
        version: VERSION,
        capabilities: &["text", "testing", "benchmark"],
        price: "0.00",
        wasm: include_bytes!("../../../agents/dist/echo.wasm"),
        examples: &[
            Example {
                input: "Hello, Bazaar!\n",
                expected_exit_code: 0,
                expected_stdout: "Hello, Bazaar!\n",
            },
            Example {
                input: "line 1\nline 2",
                expected_exit_code: 0,
                expected_stdout: "line 1\nline 2",
            },
        ],
    },
    ExampleAgent {
        name: "text-stats",
        description: "Counts the lines, words, unique words, characters and bytes of a UTF-8 text and lists its ten most frequent words (lowercased; by count, then alphabetically), as a JSON object.",
        version: VERSION,
        capabilities: &["text", "statistics", "word_count"],
        price: "0.00",
        wasm: include_bytes!("../../../agents/dist/text-stats.wasm"),
        examples: &[
            Example {
                input: "The quick brown fox jumps over the lazy dog.\nThe dog sleeps.\n",
                expected_exit_code: 0,
                expected_stdout: "{\n  \"lines\": 2,\n  \"words\": 12,\n  \"unique_words\": 9,\n  \"characters\": 61,\n  \"bytes\": 61,\n  \"top_words\": [\n    {\"word\": \"the\", \"count\": 3},\n    {\"word\": \"dog\", \"count\": 2},\n    {\"word\": \"brown\", \"count\": 1},\n    {\"word\": \"fox\", \"count\": 1},\n    {\"word\": \"jumps\", \"count\": 1},\n    {\"word\": \"lazy\", \"count\": 1},\n    {\"word\": \"over\", \"count\": 1},\n    {\"word\": \"quick\", \"count\": 1},\n    {\"word\": \"sleeps\", \"count\": 1}\n  ]\n}\n",
            },
            Example {
                input: "",
                expected_exit_code: 0,
                expected_stdout: "{\n  \"lines\": 0,\n  \"words\": 0,\n  \"unique_words\": 0,\n  \"characters\": 0,\n  \"bytes\": 0,\n  \"top_words\": []\n}\n",
            },
        ],
    },
    ExampleAgent {
        name: "json-format",
        description: "Validates a JSON document and pretty-prints it with a 2-space indent, keeping member order, numbers and string escapes as written. Invalid JSON fails with the line, column and reason on stderr.",
        version: VERSION,
        capabilities: &["json", "formatting", "validation"],
        price: "0.00",
        wasm: include_bytes!("../../../agents/dist/json-format.wasm"),
        examples: &[
            Example {
                input: "{\"name\":\"bazaar\",\"tags\":[\"wasm\",\"agents\"],\"price\":0.01,\"active\":true,\"owner\":null,\"meta\":{}}",
                expected_exit_code: 0,
                expected_stdout: "{\n  \"name\": \"bazaar\",\n  \"tags\": [\n    \"wasm\",\n    \"agents\"\n  ],\n  \"price\": 0.01,\n  \"active\": true,\n  \"owner\": null,\n  \"meta\": {}\n}\n",
            },
            Example {
                input: "{\"a\": [1, 2,]}",
                expected_exit_code: 1,
                expected_stdout: "",
            },
        ],
    },
    ExampleAgent {
        name: "csv-to-json",
        description: "Converts CSV with a header row (RFC 4180: quoted fields may hold commas, quotes and line breaks) into a JSON array of objects with string values, one per row. A row with the wrong number of fields fails, naming the row and line.",
        version: VERSION,
        capabilities: &["csv", "json", "conversion"],
        price: "0.01",
        wasm: include_bytes!("../../../agents/dist/csv-to-json.wasm"),
        examples: &[
            Example {
                input: "name,language,year\nFerris,Rust,2015\n\"Duke, the mascot\",Java,1995\n",
                expected_exit_code: 0,
                expected_stdout: "[\n  {\"name\": \"Ferris\", \"language\": \"Rust\", \"year\": \"2015\"},\n  {\"name\": \"Duke, the mascot\", \"language\": \"Java\", \"year\": \"1995\"}\n]\n",
            },
            Example {
                input: "a,b\n1,2\n3\n",
                expected_exit_code: 1,
                expected_stdout: "",
            },
        ],
    },
    ExampleAgent {
        name: "hash",
        description: "Computes the SHA-256 and SHA-512 digests of the input bytes, as a JSON object with the byte count and lowercase hex digests.",
        version: VERSION,
        capabilities: &["hashing", "checksum", "sha256", "sha512"],
        price: "0.00",
        wasm: include_bytes!("../../../agents/dist/hash.wasm"),
        examples: &[
            Example {
                input: "abc",
                expected_exit_code: 0,
                expected_stdout: "{\n  \"bytes\": 3,\n  \"sha256\": \"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\",\n  \"sha512\": \"ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f\"\n}\n",
            },
            Example {
                input: "",
                expected_exit_code: 0,
                expected_stdout: "{\n  \"bytes\": 0,\n  \"sha256\": \"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\",\n  \"sha512\": \"cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e\"\n}\n",
            },
        ],
    },
    ExampleAgent {
        name: "markdown-html",
        description: "Renders Markdown as an HTML fragment: CommonMark plus tables, strikethrough and task lists. Raw HTML in the input is passed through unsanitized.",
        version: VERSION,
        capabilities: &["markdown", "html", "conversion"],
        price: "0.01",
        wasm: include_bytes!("../../../agents/dist/markdown-html.wasm"),
        examples: &[
            Example {
                input: "# Hello\n\nSome *emphasis*, **strong** and `code`.\n\n- one\n- two\n",
                expected_exit_code: 0,
                expected_stdout: "<h1>Hello</h1>\n<p>Some <em>emphasis</em>, <strong>strong</strong> and <code>code</code>.</p>\n<ul>\n<li>one</li>\n<li>two</li>\n</ul>\n",
            },
            Example {
                input: "| a | b |\n|---|---|\n| 1 | ~~2~~ |\n",
                expected_exit_code: 0,
                expected_stdout: "<table><thead><tr><th>a</th><th>b</th></tr></thead><tbody>\n<tr><td>1</td><td><del>2</del></td></tr>\n</tbody></table>\n",
            },
        ],
    },
    ExampleAgent {
        name: "base64",
        description: "Encodes or decodes Base64. The first input line is the mode: `encode`, `encode-url` (URL-safe alphabet, no padding) or `decode`; everything after it is the data, taken byte for byte when encoding. Decoding accepts either alphabet, with or without padding, and ignores whitespace.",
        version: VERSION,
        capabilities: &["base64", "encoding", "decoding"],
        price: "0.00",
        wasm: include_bytes!("../../../agents/dist/base64.wasm"),
        examples: &[
            Example {
                input: "encode\nhello, world",
                expected_exit_code: 0,
                expected_stdout: "aGVsbG8sIHdvcmxk\n",
            },
            Example {
                input: "decode\naGVsbG8sIHdvcmxk\n",
                expected_exit_code: 0,
                expected_stdout: "hello, world",
            },
            Example {
                input: "decode\nnot base64!",
                expected_exit_code: 1,
                expected_stdout: "",
            },
            Example {
                input: "compress\nabc",
                expected_exit_code: 2,
                expected_stdout: "",
            },
        ],
    },
    ExampleAgent {
        name: "slugify",
        description: "Turns each input line into a URL slug: lowercase, Latin accents transliterated to ASCII, apostrophes dropped and every other run of punctuation or spaces replaced by a single hyphen.",
        version: VERSION,
        capabilities: &["text", "url", "slug"],
        price: "0.00",
        wasm: include_bytes!("../../../agents/dist/slugify.wasm"),
        examples: &[
            Example {
                input: "Hello, World!\nCrème Brûlée: A Recipe\n",
                expected_exit_code: 0,
                expected_stdout: "hello-world\ncreme-brulee-a-recipe\n",
            },
            Example {
                input: "Don't Panic -- 42\n",
                expected_exit_code: 0,
                expected_stdout: "dont-panic-42\n",
            },
        ],
    },
];

/// The example agent called `name`, if there is one.
pub fn by_name(name: &str) -> Option<&'static ExampleAgent> {
    EXAMPLE_AGENTS.iter().find(|agent| agent.name == name)
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn names_are_unique_and_kebab_case() {
        let mut seen = HashSet::new();
        for agent in EXAMPLE_AGENTS {
            assert!(
                seen.insert(agent.name),
                "duplicate agent name {}",
                agent.name
            );
            assert!(
                !agent.name.is_empty()
                    && !agent.name.starts_with('-')
                    && !agent.name.ends_with('-')
                    && agent
                        .name
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
                "bad agent name {:?}",
                agent.name
            );
            assert!(std::ptr::eq(by_name(agent.name).unwrap(), agent));
        }
        assert!(EXAMPLE_AGENTS.len() >= 7);
        assert!(by_name("no-such-agent").is_none());
    }

    fn is_semver(version: &str) -> bool {
        let parts: Vec<&str> = version.split('.').collect();
        parts.len() == 3
            && parts.iter().all(|p| {
                !p.is_empty()
                    && p.bytes().all(|b| b.is_ascii_digit())
                    && (p.len() == 1 || !p.starts_with('0'))
            })
    }

    #[test]
    fn versions_are_semver() {
        assert!(is_semver("0.1.0") && is_semver("10.20.30"));
        assert!(
            !is_semver("1.0") && !is_semver("01.0.0") && !is_semver("1.0.x") && !is_semver("1..0")
        );
        for agent in EXAMPLE_AGENTS {
            assert!(
                is_semver(agent.version),
                "{}: bad version {:?}",
                agent.name,
                agent.version
            );
        }
    }

    #[test]
    fn metadata_is_well_formed() {
        for agent in EXAMPLE_AGENTS {
            assert!(
                !agent.description.trim().is_empty(),
                "{}: no description",
                agent.name
            );
            assert!(
                !agent.capabilities.is_empty(),
                "{}: no capabilities",
                agent.name
            );
            for tag in agent.capabilities {
                let snake = !tag.is_empty()
                    && tag.starts_with(|c: char| c.is_ascii_lowercase())
                    && !tag.ends_with('_')
                    && !tag.contains("__")
                    && tag
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
                assert!(
                    snake,
                    "{}: capability {tag:?} is not snake_case",
                    agent.name
                );
            }
            let (units, cents) = agent.price.split_once('.').unwrap_or_default();
            assert!(
                !units.is_empty()
                    && cents.len() == 2
                    && units
                        .bytes()
                        .chain(cents.bytes())
                        .all(|b| b.is_ascii_digit()),
                "{}: bad price {:?}",
                agent.name,
                agent.price
            );
        }
    }

    #[test]
    fn every_agent_has_examples() {
        for agent in EXAMPLE_AGENTS {
            assert!(
                agent.examples.len() >= 2,
                "{}: fewer than two examples",
                agent.name
            );
            for example in agent.examples {
                assert!(
                    matches!(example.expected_exit_code, 0..=2),
                    "{}: unexpected exit code in an example",
                    agent.name
                );
                if example.expected_exit_code != 0 {
                    assert_eq!(
                        example.expected_stdout, "",
                        "{}: a failing run prints nothing",
                        agent.name
                    );
                }
            }
            assert!(
                agent.examples.iter().any(|e| e.expected_exit_code == 0),
                "{}: no successful example",
                agent.name
            );
        }
    }

    #[test]
    fn modules_are_wasi_commands() {
        for agent in EXAMPLE_AGENTS {
            assert!(
                agent.wasm.starts_with(b"\0asm"),
                "{}: not a wasm module",
                agent.name
            );
            assert_eq!(
                agent.wasm[4..8],
                [1, 0, 0, 0],
                "{}: not a core module, version 1",
                agent.name
            );
            let module = parse_module(agent.wasm).unwrap_or_else(|e| panic!("{}: {e}", agent.name));
            for (module_name, field) in &module.imports {
                assert_eq!(
                    module_name, "wasi_snapshot_preview1",
                    "{}: imports {module_name}::{field}, which no WASI runtime provides",
                    agent.name
                );
            }
            for export in ["_start", "memory"] {
                assert!(
                    module.exports.iter().any(|e| e == export),
                    "{}: does not export {export}",
                    agent.name
                );
            }
        }
    }

    /// The imports and exports of a wasm module.
    struct Module {
        imports: Vec<(String, String)>,
        exports: Vec<String>,
    }

    /// Reads just enough of the wasm binary format for the import and export
    /// sections.
    fn parse_module(wasm: &[u8]) -> Result<Module, String> {
        let mut r = Reader {
            bytes: wasm,
            pos: 8,
        };
        let mut module = Module {
            imports: Vec::new(),
            exports: Vec::new(),
        };
        while r.pos < wasm.len() {
            let id = r.byte()?;
            let size = r.uleb()? as usize;
            let end = r
                .pos
                .checked_add(size)
                .filter(|&e| e <= wasm.len())
                .ok_or("section past the end")?;
            match id {
                2 => {
                    for _ in 0..r.uleb()? {
                        let (module_name, field) = (r.name()?, r.name()?);
                        match r.byte()? {
                            0 => drop(r.uleb()?),
                            1 => {
                                r.byte()?;
                                r.limits()?;
                            }
                            2 => r.limits()?,
                            3 => {
                                r.byte()?;
                                r.byte()?;
                            }
                            4 => {
                                r.byte()?;
                                r.uleb()?;
                            }
                            kind => return Err(format!("unknown import kind {kind}")),
                        }
                        module.imports.push((module_name, field));
                    }
                }
                7 => {
                    for _ in 0..r.uleb()? {
                        module.exports.push(r.name()?);
                        r.byte()?;
                        r.uleb()?;
                    }
                }
                _ => {}
            }
            r.pos = end;
        }
        Ok(module)
    }

    struct Reader<'a> {
        bytes: &'a [u8],
        pos: usize,
    }

    impl Reader<'_> {
        fn byte(&mut self) -> Result<u8, String> {
            let b = *self.bytes.get(self.pos).ok_or("unexpected end of module")?;
            self.pos += 1;
            Ok(b)
        }

        fn uleb(&mut self) -> Result<u64, String> {
            let mut value = 0u64;
            for shift in (0..64).step_by(7) {
                let b = self.byte()?;
                value |= u64::from(b & 0x7f) << shift;
                if b & 0x80 == 0 {
                    return Ok(value);
                }
            }
            Err("LEB128 number too long".into())
        }

        fn name(&mut self) -> Result<String, String> {
            let len = self.uleb()? as usize;
            let end = self.pos.checked_add(len).ok_or("name past the end")?;
            let bytes = self.bytes.get(self.pos..end).ok_or("name past the end")?;
            self.pos = end;
            String::from_utf8(bytes.to_vec()).map_err(|_| "name is not UTF-8".into())
        }

        fn limits(&mut self) -> Result<(), String> {
            let flags = self.byte()?;
            self.uleb()?;
            if flags & 1 != 0 {
                self.uleb()?;
            }
            Ok(())
        }
    }
}
