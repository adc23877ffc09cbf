//! `--filter key=value`, as docker's CLI collects it and the daemon reads it: keys
//! lower-cased, values trimmed; the values of one key form a set (ORed, except where
//! docker ANDs them: `label`); different keys are ANDed.

use std::collections::{BTreeMap, BTreeSet};

#[derive(Clone, Debug, Default)]
pub struct Filters {
    fields: BTreeMap<String, BTreeSet<String>>,
}

impl Filters {
    /// Parse `--filter` arguments; an argument without `=` is docker's usage error.
    pub fn parse(args: &[String]) -> Result<Filters, String> {
        let mut f = Filters::default();
        for a in args {
            if a.is_empty() {
                continue;
            }
            let Some((k, v)) = a.split_once('=') else {
                return Err(format!("bad format of filter {a:?} (expected name=value)"));
            };
            f.fields
                .entry(k.trim().to_lowercase())
                .or_default()
                .insert(v.trim().to_owned());
        }
        Ok(f)
    }

    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// Refuse keys the listing does not know, naming the ones it does.
    pub fn validate(&self, accepted: &[&str]) -> Result<(), String> {
        for k in self.fields.keys() {
            if !accepted.contains(&k.as_str()) {
                return Err(format!(
                    "invalid filter '{k}' (known here: {})",
                    accepted.join(", ")
                ));
            }
        }
        Ok(())
    }

    pub fn contains(&self, key: &str) -> bool {
        self.fields.contains_key(key)
    }

    pub fn get(&self, key: &str) -> Vec<&str> {
        self.fields
            .get(key)
            .map(|s| s.iter().map(String::as_str).collect())
            .unwrap_or_default()
    }

    /// True when the key is absent or one of its values equals `source`.
    pub fn exact_match(&self, key: &str, source: &str) -> bool {
        match self.fields.get(key) {
            None => true,
            Some(vs) if vs.is_empty() => true,
            Some(vs) => vs.contains(source),
        }
    }

    /// docker's `Match`: absent, equal, or a value that is a regular expression found in
    /// `source` (an invalid expression matches nothing).
    pub fn regex_match(&self, key: &str, source: &str) -> bool {
        if self.exact_match(key, source) {
            return true;
        }
        self.fields[key].iter().any(|pattern| {
            regex::RegexBuilder::new(pattern)
                .size_limit(1 << 20)
                .build()
                .is_ok_and(|re| re.is_match(source))
        })
    }

    /// docker's `MatchKVList`: every `key` or `key=value` given is among `labels`.
    pub fn match_kv_list(&self, key: &str, labels: &BTreeMap<String, String>) -> bool {
        let Some(vs) = self.fields.get(key).filter(|v| !v.is_empty()) else {
            return true;
        };
        if labels.is_empty() {
            return false;
        }
        vs.iter().all(|v| match v.split_once('=') {
            Some((k, want)) => labels.get(k).is_some_and(|have| have == want),
            None => labels.contains_key(v.as_str()),
        })
    }

    /// docker's `GetBoolOrDefault`: `1`/`true` or `0`/`false`; both or neither is an error.
    pub fn get_bool(&self, key: &str, default: bool) -> Result<bool, String> {
        let Some(vs) = self.fields.get(key) else {
            return Ok(default);
        };
        let is_false = vs.contains("0") || vs.contains("false");
        let is_true = vs.contains("1") || vs.contains("true");
        if is_false == is_true {
            let list: Vec<&str> = vs.iter().map(String::as_str).collect();
            return Err(format!(
                "invalid filter '{key}=[{}]' (expected true or false)",
                list.join(" ")
            ));
        }
        Ok(is_true)
    }
}

/// Go's `path.Match`: `*` any run of non-`/`, `?` one non-`/`, `[...]` a class (`^`
/// negates, `a-z` ranges), `\` escapes. A malformed pattern is an error.
pub fn glob_match(pattern: &str, name: &str) -> Result<bool, String> {
    let bad = || format!("syntax error in pattern {pattern:?}");
    let mut re = String::from("^");
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '*' => re.push_str("[^/]*"),
            '?' => re.push_str("[^/]"),
            '\\' => {
                let e = chars.next().ok_or_else(bad)?;
                re.push_str(&regex::escape(&e.to_string()));
            }
            '[' => {
                re.push('[');
                if chars.peek() == Some(&'^') {
                    chars.next();
                    re.push('^');
                }
                let mut n = 0;
                loop {
                    let c = chars.next().ok_or_else(bad)?;
                    if c == ']' && n > 0 {
                        break;
                    }
                    let lo = if c == '\\' {
                        chars.next().ok_or_else(bad)?
                    } else if c == ']' || c == '-' {
                        return Err(bad());
                    } else {
                        c
                    };
                    push_class_char(&mut re, lo);
                    if chars.peek() == Some(&'-') {
                        chars.next();
                        let mut hi = chars.next().ok_or_else(bad)?;
                        if hi == '\\' {
                            hi = chars.next().ok_or_else(bad)?;
                        } else if hi == ']' {
                            return Err(bad());
                        }
                        if hi < lo {
                            return Err(bad());
                        }
                        re.push('-');
                        push_class_char(&mut re, hi);
                    }
                    n += 1;
                }
                re.push(']');
            }
            other => re.push_str(&regex::escape(&other.to_string())),
        }
    }
    re.push('$');
    let re = regex::Regex::new(&re).map_err(|_| bad())?;
    Ok(re.is_match(name))
}

fn push_class_char(re: &mut String, c: char) {
    if matches!(c, '\\' | ']' | '[' | '^' | '-' | '&' | '~') {
        re.push('\\');
    }
    re.push(c);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(args: &[&str]) -> Filters {
        Filters::parse(&args.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn parse_as_docker() {
        assert!(Filters::parse(&["dangling".to_owned()]).is_err());
        let x = f(&["Dangling = true", "label=a", "label=b=c"]);
        assert_eq!(x.get("dangling"), ["true"]);
        assert_eq!(x.get("label"), ["a", "b=c"]);
        assert!(x.validate(&["dangling", "label"]).is_ok());
        assert!(x.validate(&["dangling"]).is_err());
        assert!(x.get_bool("dangling", false).unwrap());
        assert!(f(&["dangling=maybe"]).get_bool("dangling", false).is_err());
        assert!(f(&["dangling=1", "dangling=0"])
            .get_bool("dangling", false)
            .is_err());
        assert!(!f(&["dangling=0"]).get_bool("dangling", true).unwrap());
    }

    #[test]
    fn labels_are_anded() {
        let labels: BTreeMap<String, String> = [("a", "1"), ("b", "2")]
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        assert!(f(&["label=a"]).match_kv_list("label", &labels));
        assert!(f(&["label=a=1", "label=b"]).match_kv_list("label", &labels));
        assert!(!f(&["label=a=1", "label=c"]).match_kv_list("label", &labels));
        assert!(!f(&["label=a=2"]).match_kv_list("label", &labels));
        assert!(f(&[]).match_kv_list("label", &labels));
        assert!(!f(&["label=a"]).match_kv_list("label", &BTreeMap::new()));
    }

    #[test]
    fn regexes_and_globs() {
        let x = f(&["name=^c-ex", "name=["]);
        assert!(x.regex_match("name", "c-exit0"));
        assert!(!x.regex_match("name", "c-running"));
        assert!(f(&["name=run"]).regex_match("name", "c-running"));
        assert!(glob_match("app", "app").unwrap());
        assert!(glob_match("a*", "app").unwrap());
        assert!(!glob_match("*", "127.0.0.1:5000/demo/app").unwrap());
        assert!(glob_match("*/*/app", "127.0.0.1:5000/demo/app").unwrap());
        assert!(glob_match("app:[0-9]", "app:1").unwrap());
        assert!(!glob_match("app:[^0-9]", "app:1").unwrap());
        assert!(glob_match("ap?:1", "app:1").unwrap());
        assert!(glob_match("a[", "a").is_err());
        assert!(glob_match("a\\*", "a*").unwrap());
        assert!(!glob_match("a\\*", "ab").unwrap());
    }
}
