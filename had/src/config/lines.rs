//! Where each key of a TOML file is: figment's errors name a key path but
//! not a line, so every diagnostic looks its line up here, from the spans
//! toml's parser records.

use std::collections::BTreeMap;

use toml::de::{DeTable, DeValue};

/// The line (1-based) of every key and array element of one TOML document.
#[derive(Debug, Clone, Default)]
pub struct LineMap {
    root: Node,
}

#[derive(Debug, Clone, Default)]
struct Node {
    line: usize,
    children: BTreeMap<String, Node>,
    items: Vec<Node>,
}

/// A TOML syntax error with its line.
#[derive(Debug, Clone)]
pub struct SyntaxError {
    /// 1-based line of the error.
    pub line: usize,
    /// toml's message, first line only.
    pub message: String,
}

pub(crate) fn line_at(text: &str, offset: usize) -> usize {
    text.as_bytes()
        .iter()
        .take(offset)
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

impl LineMap {
    /// Parses `text`, recording the line of every key.
    pub fn parse(text: &str) -> Result<LineMap, SyntaxError> {
        let table = DeTable::parse(text).map_err(|e| SyntaxError {
            line: e.span().map_or(1, |s| line_at(text, s.start)),
            message: e
                .message()
                .lines()
                .next()
                .unwrap_or("invalid TOML")
                .to_string(),
        })?;
        let mut root = Node {
            line: 1,
            ..Node::default()
        };
        fill_table(text, table.get_ref(), &mut root);
        Ok(LineMap { root })
    }

    /// The line of the deepest key of `path` present in the file (array
    /// elements are addressed by their index as a string), or `None` if not
    /// even the first key is in the file.
    pub fn line(&self, path: &[impl AsRef<str>]) -> Option<usize> {
        let mut node = &self.root;
        let mut found = None;
        for key in path {
            let key = key.as_ref();
            let next = node
                .children
                .get(key)
                .or_else(|| key.parse::<usize>().ok().and_then(|i| node.items.get(i)));
            match next {
                Some(n) => {
                    node = n;
                    found = Some(n.line);
                }
                None => break,
            }
        }
        found
    }

    /// Whether the full `path` is written in the file.
    pub fn contains(&self, path: &[impl AsRef<str>]) -> bool {
        let mut node = &self.root;
        for key in path {
            let key = key.as_ref();
            match node
                .children
                .get(key)
                .or_else(|| key.parse::<usize>().ok().and_then(|i| node.items.get(i)))
            {
                Some(n) => node = n,
                None => return false,
            }
        }
        true
    }
}

fn fill_table(text: &str, table: &DeTable<'_>, node: &mut Node) {
    for (key, value) in table {
        let mut child = Node {
            line: line_at(text, key.span().start),
            ..Node::default()
        };
        fill_value(text, value.get_ref(), &mut child);
        node.children.insert(key.get_ref().to_string(), child);
    }
}

fn fill_value(text: &str, value: &DeValue<'_>, node: &mut Node) {
    match value {
        DeValue::Table(t) => fill_table(text, t, node),
        DeValue::Array(items) => {
            for item in items {
                let mut child = Node {
                    line: line_at(text, item.span().start),
                    ..Node::default()
                };
                fill_value(text, item.get_ref(), &mut child);
                node.items.push(child);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_lines_of_keys_tables_and_elements() {
        let text = "[global]\nrouter_id = \"a\"\n\n[vrrp_instance.VI_1]\npriority = 300\nvirtual_ipaddress = [\n  \"198.18.0.1\",\n  \"bad\",\n]\n";
        let map = LineMap::parse(text).expect("valid toml");
        assert_eq!(map.line(&["global", "router_id"]), Some(2));
        assert_eq!(map.line(&["vrrp_instance", "VI_1"]), Some(4));
        assert_eq!(map.line(&["vrrp_instance", "VI_1", "priority"]), Some(5));
        assert_eq!(
            map.line(&["vrrp_instance", "VI_1", "virtual_ipaddress", "1"]),
            Some(8)
        );
        assert_eq!(map.line(&["vrrp_instance", "VI_1", "nope"]), Some(4));
        assert_eq!(map.line(&["nope"]), None);
    }

    #[test]
    fn syntax_error_has_its_line() {
        let err = LineMap::parse("[global]\nrouter_id = \n").expect_err("invalid");
        assert_eq!(err.line, 2);
    }
}
