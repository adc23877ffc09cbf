//! `Env` values replaced by `<redacted>` in JSON text, everything else byte for byte.
//!
//! A small scanner over the JSON text (no re-serialisation: key order, number forms and
//! Go's `\u003c` escapes stay as Docker wrote them). Every string in an array that is
//! the value of a key `Env`, at any depth, that holds `NAME=VALUE` with a non-empty
//! value becomes `NAME=<redacted>`. Docker writes `Env` in a container's
//! `config.v2.json` (`Config.Env`) and in image configs (`config.Env`,
//! `container_config.Env`).

/// The text that replaces a value.
pub const REDACTED: &str = "<redacted>";

/// The rewritten text and how many values were replaced; `None` when the text is not
/// JSON the scanner can follow (the caller then omits the file rather than leak it).
pub fn redact_env(input: &[u8]) -> Option<(Vec<u8>, usize)> {
    // One frame per open container: is it an object, the last key seen (objects),
    // and whether it is an `Env` array.
    struct Frame {
        object: bool,
        key: Option<Vec<u8>>,
        expect_key: bool,
        env: bool,
    }
    let mut out = Vec::with_capacity(input.len());
    let mut stack: Vec<Frame> = Vec::new();
    let mut count = 0;
    let mut i = 0;
    while i < input.len() {
        let b = input[i];
        match b {
            b'"' => {
                let end = string_end(input, i)?;
                let raw = &input[i + 1..end];
                match stack.last_mut() {
                    Some(f) if f.object && f.expect_key => {
                        f.key = Some(raw.to_vec());
                        f.expect_key = false;
                        out.extend_from_slice(&input[i..=end]);
                    }
                    Some(f) if !f.object && f.env => match raw.iter().position(|&c| c == b'=') {
                        Some(eq) if eq + 1 < raw.len() => {
                            out.push(b'"');
                            out.extend_from_slice(&raw[..=eq]);
                            out.extend_from_slice(REDACTED.as_bytes());
                            out.push(b'"');
                            count += 1;
                        }
                        _ => out.extend_from_slice(&input[i..=end]),
                    },
                    _ => out.extend_from_slice(&input[i..=end]),
                }
                i = end + 1;
                continue;
            }
            b'{' | b'[' => {
                let env = b == b'['
                    && stack
                        .last()
                        .is_some_and(|f| f.object && f.key.as_deref() == Some(b"Env"));
                stack.push(Frame {
                    object: b == b'{',
                    key: None,
                    expect_key: b == b'{',
                    env,
                });
            }
            b'}' | b']' => {
                let f = stack.pop()?;
                if f.object != (b == b'}') {
                    return None;
                }
            }
            b',' => {
                if let Some(f) = stack.last_mut() {
                    if f.object {
                        f.expect_key = true;
                    }
                }
            }
            _ => {}
        }
        out.push(b);
        i += 1;
    }
    stack.is_empty().then_some((out, count))
}

/// Index of the closing quote of the string that opens at `start`.
fn string_end(input: &[u8], start: usize) -> Option<usize> {
    let mut j = start + 1;
    while j < input.len() {
        match input[j] {
            b'\\' => j += 2,
            b'"' => return Some(j),
            _ => j += 1,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_values_go_names_and_the_rest_stay() {
        let text = br#"{"Config":{"Env":["PATH=/usr/bin","TOKEN=s3cr\"et","EMPTY=","BARE"],"Cmd":["Env=x"]},"Env":"x","Labels":{"Env":"k=v"}}"#;
        let (out, n) = redact_env(text).unwrap();
        assert_eq!(n, 2);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"{"Config":{"Env":["PATH=<redacted>","TOKEN=<redacted>","EMPTY=","BARE"],"Cmd":["Env=x"]},"Env":"x","Labels":{"Env":"k=v"}}"#
        );
    }

    #[test]
    fn nested_and_spaced_json_is_followed() {
        let text = b"{ \"config\" : { \"Env\" : [ \"A=1\" , \"B=\\u003c2\\u003e\" ] }, \"container_config\": {\"Env\": null} }";
        let (out, n) = redact_env(text).unwrap();
        assert_eq!(n, 2);
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["config"]["Env"][1], "B=<redacted>");
    }

    #[test]
    fn broken_json_is_refused() {
        assert!(redact_env(b"{\"Env\":[\"A=1\"").is_none());
        assert!(redact_env(b"{\"Env\":[\"A=1}").is_none());
        assert!(redact_env(b"]").is_none());
    }
}
