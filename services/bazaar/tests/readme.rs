//! The README's configuration reference is the configuration the binary accepts: every key
//! `bazaar --print-config` prints is in the table and every key in the table is printed, and
//! the numeric defaults the table gives are the binary's.

use std::collections::BTreeMap;
use std::process::Command;

use serde_json::Value;

fn flatten(prefix: &str, value: &Value, into: &mut BTreeMap<String, Value>) {
    match value {
        Value::Object(fields) => {
            for (key, field) in fields {
                let path = if prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{prefix}.{key}")
                };
                flatten(&path, field, into);
            }
        }
        other => {
            into.insert(prefix.to_owned(), other.clone());
        }
    }
}

/// The rows of the table headed `| key | default | what |`: key → default cell.
fn reference_table(readme: &str) -> BTreeMap<String, String> {
    let mut rows = BTreeMap::new();
    let mut lines = readme
        .lines()
        .skip_while(|line| !line.starts_with("| key | default | what |"))
        .skip(2);
    for line in lines.by_ref() {
        if !line.starts_with('|') {
            break;
        }
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let key = cells[1].trim_matches('`').to_owned();
        rows.insert(key, cells[2].to_owned());
    }
    rows
}

#[test]
fn the_configuration_reference_lists_exactly_the_keys_the_binary_has() {
    let output = Command::new(env!("CARGO_BIN_EXE_bazaar"))
        .arg("--print-config")
        .env_clear()
        .output()
        .expect("bazaar runs");
    assert!(output.status.success(), "{output:?}");
    let printed: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    let mut keys = BTreeMap::new();
    flatten("", &printed, &mut keys);

    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md"))
        .expect("README.md");
    let table = reference_table(&readme);
    assert!(
        !table.is_empty(),
        "no configuration reference table in README.md"
    );

    let missing: Vec<&String> = keys
        .keys()
        .filter(|key| !table.contains_key(*key))
        .collect();
    let unknown: Vec<&String> = table
        .keys()
        .filter(|key| !keys.contains_key(*key))
        .collect();
    assert!(
        missing.is_empty(),
        "keys missing from the README's table: {missing:?}"
    );
    assert!(
        unknown.is_empty(),
        "keys in the README's table the binary does not have: {unknown:?}"
    );

    for (key, cell) in &table {
        if let (Ok(documented), Some(actual)) = (cell.parse::<f64>(), keys[key].as_f64()) {
            assert_eq!(documented, actual, "the README's default of {key}");
        }
    }
}
