//! `--format`: the part of docker's Go templates that people use in scripts, applied to
//! the rows a listing report built (so every store that fills the same rows gets it).
//!
//! What is understood: text with `{{.Field}}`, `{{.A.B}}`, `{{.}}`, `{{json .}}`,
//! `{{json .Field}}`, pipes (`{{.Names | upper}}`), `if`/`else if`/`else`/`end`, `range`
//! (with `$k, $v :=`), `with`, variables, comments, `{{-`/`-}}` trimming, and the functions
//! docker adds (`json`, `join`, `split`, `lower`, `upper`, `title`, `pad`, `truncate`) plus
//! text/template's `index`, `len`, `printf`, `print`, `println`, `eq`, `ne`, `lt`, `le`,
//! `gt`, `ge`, `not`, `and`, `or`. A leading `table` prints a header row made from the
//! listing's column names and aligns the columns as docker's tabwriter does (minimum width
//! 10, padding 3); `\t` and `\n` are turned into tab and newline, as docker does.
//! `--format json` is `{{json .}}`; `--format table` (or nothing) is the usual table.

// A small interpreter: short names (`p`, `a`, `b` for a pipeline and its branches) read
// best here, as in Go's own text/template.
#![allow(clippy::many_single_char_names, clippy::similar_names)]

use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// A template that cannot be parsed or run: the message says where and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormatError(pub String);

impl std::fmt::Display for FormatError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// One row of a listing as docker's formatter context shows it: field name -> value
/// (strings, as docker's context methods return), plus the labels `.Label "k"` reads.
#[derive(Clone, Debug, Default)]
pub struct Row {
    pub fields: Map<String, Value>,
    pub labels: BTreeMap<String, String>,
}

impl Row {
    pub fn new() -> Row {
        Row::default()
    }
    /// Add a string field.
    pub fn set(&mut self, name: &str, value: impl Into<String>) -> &mut Row {
        self.fields
            .insert(name.to_owned(), Value::String(value.into()));
        self
    }
    /// Add a field of any JSON value (`null` for docker's nil pointers).
    pub fn set_value(&mut self, name: &str, value: Value) -> &mut Row {
        self.fields.insert(name.to_owned(), value);
        self
    }
}

/// A listing's columns: (field, header) as docker's formatter names them.
pub type Headers = &'static [(&'static str, &'static str)];

/// A parsed `--format`.
#[derive(Debug, Clone)]
pub struct Template {
    table: bool,
    nodes: Vec<Node>,
}

/// What `--format` asks for: docker's own table (`None`), or a template.
pub fn parse(format: Option<&str>) -> Result<Option<Template>, FormatError> {
    let Some(source) = format else {
        return Ok(None);
    };
    match source {
        "" | "table" => return Ok(None),
        "json" => return Template::parse_body("{{json .}}", false).map(Some),
        _ => {}
    }
    let (table, rest) = match source.strip_prefix("table") {
        Some(rest) => (true, rest),
        None => (false, source),
    };
    let body = rest
        .trim_matches(' ')
        .replace("\\t", "\t")
        .replace("\\n", "\n");
    Template::parse_body(&body, table).map(Some)
}

impl Template {
    fn parse_body(body: &str, table: bool) -> Result<Template, FormatError> {
        let tokens = lex(body).map_err(|e| FormatError(format!("template parsing error: {e}")))?;
        let mut p = Parser {
            tokens,
            pos: 0,
            depth: 0,
        };
        let nodes = p
            .list(&[])
            .map_err(|e| FormatError(format!("template parsing error: {e}")))?;
        if p.pos < p.tokens.len() {
            return Err(FormatError(format!(
                "template parsing error: unexpected {}",
                p.tokens[p.pos].describe()
            )));
        }
        Ok(Template { table, nodes })
    }

    pub fn is_table(&self) -> bool {
        self.table
    }

    /// Does the template read this field of the row (or the whole row, as `{{json .}}`)?
    /// docker measures container sizes only when `.Size` is read.
    pub fn reads_field(&self, name: &str) -> bool {
        let mut found = false;
        visit_pipelines(&self.nodes, &mut |p| {
            for c in &p.cmds {
                for a in &c.args {
                    match a {
                        Arg::Field(path) if path.first().is_some_and(|f| f == name) => {
                            found = true;
                        }
                        Arg::Dot => found = true,
                        _ => {}
                    }
                }
            }
        });
        found
    }

    /// Every `.Field` read from the row (outside `range`/`with`) must be one of the
    /// listing's fields (or `Label`): checked before anything is printed.
    pub fn check_fields(&self, known: &[&str]) -> Result<(), FormatError> {
        let mut bad: Option<String> = None;
        check_nodes(&self.nodes, &mut |path: &[String]| {
            let f = &path[0];
            if bad.is_none() && f != "Label" && !known.contains(&f.as_str()) {
                bad = Some(f.clone());
            }
        });
        match bad {
            Some(f) => Err(FormatError(format!(
                "template: can't evaluate field {f}; the fields here are {}",
                known.join(", ")
            ))),
            None => Ok(()),
        }
    }

    /// Render rows: one line each, or for `table` a header row and aligned columns.
    pub fn render_rows(&self, headers: Headers, rows: &[Row]) -> Result<String, FormatError> {
        let mut buf = String::new();
        for r in rows {
            self.exec_into(&Val::Row(r), &mut buf, false)?;
            buf.push('\n');
        }
        if !self.table {
            return Ok(buf);
        }
        let mut text = String::new();
        // A header that cannot be made is left out, as docker's tabwriter gets nothing.
        let _ = self.exec_into(&Val::Header(headers), &mut text, true);
        text.push('\n');
        text.push_str(&buf);
        Ok(tabwrite(&text, 10, 3))
    }

    /// Render one JSON value per line (`inspect --format`).
    pub fn render_values(&self, values: &[Value]) -> Result<String, FormatError> {
        let mut buf = String::new();
        for v in values {
            self.exec_into(&Val::Json(v.clone()), &mut buf, false)?;
            buf.push('\n');
        }
        Ok(buf)
    }

    fn exec_into(&self, dot: &Val<'_>, out: &mut String, header: bool) -> Result<(), FormatError> {
        let mut st = State {
            root: dot.clone(),
            vars: Vec::new(),
            header,
            steps: 0,
        };
        st.vars.push(("$".to_owned(), dot.clone()));
        st.walk(&self.nodes, dot, out)
            .map_err(|e| FormatError(format!("template: executing: {e}")))
    }
}

// ---------------------------------------------------------------------------------------
// Values

#[derive(Clone, Debug)]
enum Val<'a> {
    Json(Value),
    Row(&'a Row),
    Header(Headers),
    /// A missing map key: printed `<no value>`.
    Missing,
}

impl Val<'_> {
    fn truthy(&self) -> bool {
        match self {
            Val::Json(v) => match v {
                Value::Null => false,
                Value::Bool(b) => *b,
                Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
                Value::String(s) => !s.is_empty(),
                Value::Array(a) => !a.is_empty(),
                Value::Object(o) => !o.is_empty(),
            },
            Val::Row(_) | Val::Header(_) => true,
            Val::Missing => false,
        }
    }

    fn print(&self) -> String {
        match self {
            Val::Json(v) => print_value(v),
            Val::Row(r) => print_value(&Value::Object(r.fields.clone())),
            Val::Header(h) => {
                let m: Map<String, Value> = h
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), Value::String((*v).to_owned())))
                    .collect();
                print_value(&Value::Object(m))
            }
            Val::Missing => "<no value>".to_owned(),
        }
    }

    fn to_json(&self) -> Value {
        match self {
            Val::Json(v) => v.clone(),
            Val::Row(r) => Value::Object(r.fields.clone()),
            Val::Header(h) => Value::Object(
                h.iter()
                    .map(|(k, v)| ((*k).to_owned(), Value::String((*v).to_owned())))
                    .collect(),
            ),
            Val::Missing => Value::Null,
        }
    }

    fn as_str(&self) -> Option<&str> {
        match self {
            Val::Json(Value::String(s)) => Some(s),
            _ => None,
        }
    }
}

/// Go's `fmt` `%v` of a decoded JSON value, as text/template prints it.
fn print_value(v: &Value) -> String {
    match v {
        Value::Null => "<nil>".to_owned(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        Value::Array(a) => {
            let items: Vec<String> = a.iter().map(print_value).collect();
            format!("[{}]", items.join(" "))
        }
        Value::Object(o) => {
            let items: Vec<String> = o
                .iter()
                .map(|(k, v)| format!("{k}:{}", print_value(v)))
                .collect();
            format!("map[{}]", items.join(" "))
        }
    }
}

/// Go's `encoding/json`: keys sorted, no spaces; `html` also escapes `<`, `>` and `&`
/// (docker's `{{json .}}` of a listing row goes through `json.Marshal`, which does).
pub fn go_json(v: &Value, html: bool) -> String {
    let mut out = String::new();
    write_json(v, html, &mut out);
    out
}

fn write_json(v: &Value, html: bool, out: &mut String) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => write_json_str(s, html, out),
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json(x, html, out);
            }
            out.push(']');
        }
        Value::Object(o) => {
            out.push('{');
            let mut keys: Vec<&String> = o.keys().collect();
            keys.sort();
            for (i, k) in keys.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json_str(k, html, out);
                out.push(':');
                write_json(&o[k.as_str()], html, out);
            }
            out.push('}');
        }
    }
}

fn write_json_str(s: &str, html: bool, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '<' | '>' | '&' if html => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            '\u{2028}' | '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

// ---------------------------------------------------------------------------------------
// Lexing

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Text(String),
    Open,
    Close,
    Pipe,
    LParen,
    RParen,
    Declare,
    Assign,
    Comma,
    Dot,
    /// `.A.B` (after a term: `$x.A`, `$.A`)
    Field(Vec<String>),
    /// `$`, `$x`, with an optional field chain
    Var(String, Vec<String>),
    Ident(String),
    Str(String),
    Num(f64, Option<i64>),
}

impl Tok {
    fn describe(&self) -> String {
        match self {
            Tok::Text(_) => "text".to_owned(),
            Tok::Open => "{{".to_owned(),
            Tok::Close => "}}".to_owned(),
            Tok::Ident(s) => format!("<{s}>"),
            other => format!("{other:?}"),
        }
    }
}

fn lex(src: &str) -> Result<Vec<Tok>, String> {
    let mut toks = Vec::new();
    let mut rest = src;
    loop {
        let Some(open) = rest.find("{{") else {
            if !rest.is_empty() {
                toks.push(Tok::Text(rest.to_owned()));
            }
            return Ok(toks);
        };
        let mut text = &rest[..open];
        let mut inner = &rest[open + 2..];
        if inner.starts_with("- ") || inner.starts_with("-\t") || inner.starts_with("-\n") {
            text = text.trim_end();
            inner = &inner[1..];
        }
        if !text.is_empty() {
            toks.push(Tok::Text(text.to_owned()));
        }
        // A comment is the whole action.
        let trimmed = inner.trim_start();
        if trimmed.starts_with("/*") {
            let Some(end) = trimmed.find("*/") else {
                return Err("unclosed comment".to_owned());
            };
            let after = trimmed[end + 2..].trim_start();
            let (after, trim_next) = if let Some(a) = after.strip_prefix("-}}") {
                (a, true)
            } else if let Some(a) = after.strip_prefix("}}") {
                (a, false)
            } else {
                return Err("comment ends before closing delimiter".to_owned());
            };
            rest = if trim_next { after.trim_start() } else { after };
            continue;
        }
        toks.push(Tok::Open);
        let (consumed, trim_next) = lex_action(inner, &mut toks)?;
        toks.push(Tok::Close);
        rest = &inner[consumed..];
        if trim_next {
            rest = rest.trim_start();
        }
    }
}

/// Lex one action up to and including `}}`; returns the bytes consumed and whether the
/// action ended with `-}}`.
fn lex_action(s: &str, toks: &mut Vec<Tok>) -> Result<(usize, bool), String> {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if s[i..].starts_with(" -}}") || s[i..].starts_with("\t-}}") || s[i..].starts_with("\n-}}")
        {
            return Ok((i + 4, true));
        }
        if s[i..].starts_with("}}") {
            return Ok((i + 2, false));
        }
        match c {
            b' ' | b'\t' | b'\r' | b'\n' => i += 1,
            b'|' => {
                toks.push(Tok::Pipe);
                i += 1;
            }
            b'(' => {
                toks.push(Tok::LParen);
                i += 1;
            }
            b')' => {
                toks.push(Tok::RParen);
                i += 1;
            }
            b',' => {
                toks.push(Tok::Comma);
                i += 1;
            }
            b':' if b.get(i + 1) == Some(&b'=') => {
                toks.push(Tok::Declare);
                i += 2;
            }
            b'=' => {
                toks.push(Tok::Assign);
                i += 1;
            }
            b'"' => {
                let mut out = String::new();
                let mut j = i + 1;
                let chars: Vec<(usize, char)> = s[j..].char_indices().collect();
                let mut k = 0;
                let mut closed = false;
                while k < chars.len() {
                    let (_, ch) = chars[k];
                    match ch {
                        '"' => {
                            j += chars[k].0 + 1;
                            closed = true;
                            break;
                        }
                        '\\' => {
                            k += 1;
                            let Some(&(_, e)) = chars.get(k) else { break };
                            out.push(match e {
                                'n' => '\n',
                                't' => '\t',
                                'r' => '\r',
                                '0' => '\0',
                                other => other,
                            });
                        }
                        '\n' => return Err("unterminated quoted string".to_owned()),
                        other => out.push(other),
                    }
                    k += 1;
                }
                if !closed {
                    return Err("unterminated quoted string".to_owned());
                }
                toks.push(Tok::Str(out));
                i = j;
            }
            b'`' => {
                let Some(end) = s[i + 1..].find('`') else {
                    return Err("unterminated raw quoted string".to_owned());
                };
                toks.push(Tok::Str(s[i + 1..i + 1 + end].to_owned()));
                i += end + 2;
            }
            b'.' => {
                let (path, used) = field_chain(&s[i..]);
                if path.is_empty() {
                    toks.push(Tok::Dot);
                    i += 1;
                } else {
                    toks.push(Tok::Field(path));
                    i += used;
                }
            }
            b'$' => {
                let name_len = s[i + 1..]
                    .bytes()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == b'_')
                    .count();
                let name = format!("${}", &s[i + 1..i + 1 + name_len]);
                i += 1 + name_len;
                let (path, used) = field_chain(&s[i..]);
                i += used;
                toks.push(Tok::Var(name, path));
            }
            b'-' | b'+' | b'0'..=b'9' => {
                let len = s[i..]
                    .bytes()
                    .enumerate()
                    .take_while(|(n, c)| {
                        c.is_ascii_digit() || *c == b'.' || (*n == 0 && (*c == b'-' || *c == b'+'))
                    })
                    .count();
                let text = &s[i..i + len];
                let f: f64 = text
                    .parse()
                    .map_err(|_| format!("bad number syntax: {text:?}"))?;
                let int = text.parse::<i64>().ok();
                toks.push(Tok::Num(f, int));
                i += len;
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                let len = s[i..]
                    .bytes()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == b'_')
                    .count();
                toks.push(Tok::Ident(s[i..i + len].to_owned()));
                i += len;
            }
            _ => {
                let ch = s[i..].chars().next().unwrap_or('?');
                return Err(format!("unexpected {ch:?} in command"));
            }
        }
    }
    Err("unclosed action".to_owned())
}

/// `.A.B` at the start of `s`: the names and the bytes they take (empty for a lone `.`).
fn field_chain(s: &str) -> (Vec<String>, usize) {
    let mut path = Vec::new();
    let mut i = 0;
    let b = s.as_bytes();
    while i < b.len() && b[i] == b'.' {
        let len = s[i + 1..]
            .bytes()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == b'_')
            .count();
        if len == 0 {
            break;
        }
        path.push(s[i + 1..i + 1 + len].to_owned());
        i += 1 + len;
    }
    (path, i)
}

// ---------------------------------------------------------------------------------------
// Parsing

#[derive(Clone, Debug)]
enum Node {
    Text(String),
    Action(Pipeline),
    If(Pipeline, Vec<Node>, Vec<Node>),
    Range(Pipeline, Vec<Node>, Vec<Node>),
    With(Pipeline, Vec<Node>, Vec<Node>),
}

#[derive(Clone, Debug)]
struct Pipeline {
    decl: Vec<String>,
    assign: bool,
    cmds: Vec<Cmd>,
}

#[derive(Clone, Debug)]
struct Cmd {
    args: Vec<Arg>,
}

#[derive(Clone, Debug)]
enum Arg {
    Dot,
    Field(Vec<String>),
    Var(String, Vec<String>),
    Func(String),
    Str(String),
    Num(f64, Option<i64>),
    Bool(bool),
    Nil,
    Sub(Box<Pipeline>),
}

const FUNCS: &[&str] = &[
    "json", "join", "split", "lower", "upper", "title", "pad", "truncate", "index", "len",
    "printf", "print", "println", "eq", "ne", "lt", "le", "gt", "ge", "not", "and", "or",
];

struct Parser {
    tokens: Vec<Tok>,
    pos: usize,
    depth: usize,
}

/// How deeply `if`/`range`/`with` and parentheses may nest.
const MAX_DEPTH: usize = 100;

/// How a list of nodes ended.
enum End {
    Eof,
    Stop,
    Else,
    ElseIf(Pipeline),
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.tokens.get(self.pos)
    }

    fn list(&mut self, _ctx: &[&str]) -> Result<Vec<Node>, String> {
        let (nodes, end) = self.list_until()?;
        match end {
            End::Eof => Ok(nodes),
            End::Stop => Err("unexpected {{end}}".to_owned()),
            End::Else | End::ElseIf(_) => Err("unexpected {{else}}".to_owned()),
        }
    }

    fn list_until(&mut self) -> Result<(Vec<Node>, End), String> {
        let mut nodes = Vec::new();
        loop {
            match self.peek().cloned() {
                None => return Ok((nodes, End::Eof)),
                Some(Tok::Text(t)) => {
                    self.pos += 1;
                    nodes.push(Node::Text(t));
                }
                Some(Tok::Open) => {
                    self.pos += 1;
                    match self.peek() {
                        Some(Tok::Ident(k)) if k == "end" => {
                            self.pos += 1;
                            self.expect_close()?;
                            return Ok((nodes, End::Stop));
                        }
                        Some(Tok::Ident(k)) if k == "else" => {
                            self.pos += 1;
                            if matches!(self.peek(), Some(Tok::Ident(k)) if k == "if") {
                                self.pos += 1;
                                let p = self.pipeline()?;
                                return Ok((nodes, End::ElseIf(p)));
                            }
                            self.expect_close()?;
                            return Ok((nodes, End::Else));
                        }
                        Some(Tok::Ident(k)) if k == "if" || k == "range" || k == "with" => {
                            let kind = k.clone();
                            self.pos += 1;
                            nodes.push(self.control(&kind)?);
                        }
                        Some(Tok::Ident(k))
                            if matches!(
                                k.as_str(),
                                "template" | "define" | "block" | "break" | "continue"
                            ) =>
                        {
                            return Err(format!("{{{{{k}}}}} is not supported here"));
                        }
                        _ => {
                            let p = self.pipeline()?;
                            nodes.push(Node::Action(p));
                        }
                    }
                }
                Some(t) => return Err(format!("unexpected {}", t.describe())),
            }
        }
    }

    fn control(&mut self, kind: &str) -> Result<Node, String> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err("template nested too deeply".to_owned());
        }
        let node = self.control_inner(kind);
        self.depth -= 1;
        node
    }

    fn control_inner(&mut self, kind: &str) -> Result<Node, String> {
        let p = self.pipeline()?;
        let (body, end) = self.list_until()?;
        let other = match end {
            End::Eof => {
                return Err(format!(
                    "unexpected EOF: {{{{{kind}}}}} without {{{{end}}}}"
                ))
            }
            End::Stop => Vec::new(),
            End::Else => {
                let (e, end2) = self.list_until()?;
                if !matches!(end2, End::Stop) {
                    return Err(format!("expected {{{{end}}}} after {{{{else}}}} of {kind}"));
                }
                e
            }
            End::ElseIf(p2) => {
                if kind != "if" {
                    return Err(format!("{{{{else if}}}} inside {kind}"));
                }
                // `else if` is an `if` inside the else branch, sharing the `end`.
                vec![self.else_if(p2)?]
            }
        };
        Ok(match kind {
            "if" => Node::If(p, body, other),
            "range" => Node::Range(p, body, other),
            _ => Node::With(p, body, other),
        })
    }

    fn else_if(&mut self, p: Pipeline) -> Result<Node, String> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err("template nested too deeply".to_owned());
        }
        let node = self.else_if_inner(p);
        self.depth -= 1;
        node
    }

    fn else_if_inner(&mut self, p: Pipeline) -> Result<Node, String> {
        let (body, end) = self.list_until()?;
        let other = match end {
            End::Eof => return Err("unexpected EOF: {{if}} without {{end}}".to_owned()),
            End::Stop => Vec::new(),
            End::Else => {
                let (e, end2) = self.list_until()?;
                if !matches!(end2, End::Stop) {
                    return Err("expected {{end}} after {{else}}".to_owned());
                }
                e
            }
            End::ElseIf(p2) => vec![self.else_if(p2)?],
        };
        Ok(Node::If(p, body, other))
    }

    fn expect_close(&mut self) -> Result<(), String> {
        match self.peek() {
            Some(Tok::Close) => {
                self.pos += 1;
                Ok(())
            }
            Some(t) => Err(format!("unexpected {} in action", t.describe())),
            None => Err("unclosed action".to_owned()),
        }
    }

    /// A pipeline up to and including `}}`.
    fn pipeline(&mut self) -> Result<Pipeline, String> {
        let p = self.pipeline_inner(false)?;
        self.expect_close()?;
        Ok(p)
    }

    fn pipeline_inner(&mut self, in_paren: bool) -> Result<Pipeline, String> {
        let mut decl = Vec::new();
        let mut assign = false;
        // `$x :=`, `$k, $v :=`
        let save = self.pos;
        let mut names = Vec::new();
        while let Some(Tok::Var(n, path)) = self.peek().cloned() {
            if !path.is_empty() {
                break;
            }
            self.pos += 1;
            names.push(n);
            match self.peek() {
                Some(Tok::Comma) => {
                    self.pos += 1;
                }
                Some(Tok::Declare) => {
                    self.pos += 1;
                    decl.clone_from(&names);
                    break;
                }
                Some(Tok::Assign) => {
                    self.pos += 1;
                    decl.clone_from(&names);
                    assign = true;
                    break;
                }
                _ => break,
            }
        }
        if decl.is_empty() {
            self.pos = save;
        }
        let mut cmds = Vec::new();
        loop {
            let mut args = Vec::new();
            loop {
                match self.peek().cloned() {
                    Some(Tok::Close | Tok::Pipe) | None => break,
                    Some(Tok::RParen) if in_paren => break,
                    Some(Tok::Dot) => {
                        self.pos += 1;
                        args.push(Arg::Dot);
                    }
                    Some(Tok::Field(p)) => {
                        self.pos += 1;
                        args.push(Arg::Field(p));
                    }
                    Some(Tok::Var(n, p)) => {
                        self.pos += 1;
                        args.push(Arg::Var(n, p));
                    }
                    Some(Tok::Str(s)) => {
                        self.pos += 1;
                        args.push(Arg::Str(s));
                    }
                    Some(Tok::Num(f, i)) => {
                        self.pos += 1;
                        args.push(Arg::Num(f, i));
                    }
                    Some(Tok::Ident(name)) => {
                        self.pos += 1;
                        args.push(match name.as_str() {
                            "true" => Arg::Bool(true),
                            "false" => Arg::Bool(false),
                            "nil" => Arg::Nil,
                            f if FUNCS.contains(&f) => Arg::Func(name),
                            _ => return Err(format!("function {name:?} not defined")),
                        });
                    }
                    Some(Tok::LParen) => {
                        self.pos += 1;
                        self.depth += 1;
                        if self.depth > MAX_DEPTH {
                            return Err("template nested too deeply".to_owned());
                        }
                        let inner = self.pipeline_inner(true)?;
                        self.depth -= 1;
                        match self.peek() {
                            Some(Tok::RParen) => self.pos += 1,
                            _ => return Err("unclosed left paren".to_owned()),
                        }
                        args.push(Arg::Sub(Box::new(inner)));
                    }
                    Some(t) => return Err(format!("unexpected {} in operand", t.describe())),
                }
            }
            if args.is_empty() {
                return Err("missing value for command".to_owned());
            }
            cmds.push(Cmd { args });
            if matches!(self.peek(), Some(Tok::Pipe)) {
                self.pos += 1;
                continue;
            }
            break;
        }
        if self.peek().is_none() {
            return Err("unclosed action".to_owned());
        }
        Ok(Pipeline { decl, assign, cmds })
    }
}

fn visit_pipelines(nodes: &[Node], f: &mut dyn FnMut(&Pipeline)) {
    fn pipe(p: &Pipeline, f: &mut dyn FnMut(&Pipeline)) {
        f(p);
        for c in &p.cmds {
            for a in &c.args {
                if let Arg::Sub(inner) = a {
                    pipe(inner, f);
                }
            }
        }
    }
    for n in nodes {
        match n {
            Node::Text(_) => {}
            Node::Action(p) => pipe(p, f),
            Node::If(p, a, b) | Node::Range(p, a, b) | Node::With(p, a, b) => {
                pipe(p, f);
                visit_pipelines(a, f);
                visit_pipelines(b, f);
            }
        }
    }
}

/// Field paths read from the top-level dot (not inside `range`/`with` bodies).
fn check_nodes(nodes: &[Node], f: &mut dyn FnMut(&[String])) {
    fn pipe(p: &Pipeline, f: &mut dyn FnMut(&[String])) {
        for c in &p.cmds {
            for a in &c.args {
                match a {
                    Arg::Field(path) => f(path),
                    Arg::Var(n, path) if n == "$" && !path.is_empty() => f(path),
                    Arg::Sub(inner) => pipe(inner, f),
                    _ => {}
                }
            }
        }
    }
    for n in nodes {
        match n {
            Node::Text(_) => {}
            Node::Action(p) => pipe(p, f),
            Node::If(p, a, b) => {
                pipe(p, f);
                check_nodes(a, f);
                check_nodes(b, f);
            }
            Node::Range(p, _, b) | Node::With(p, _, b) => {
                pipe(p, f);
                check_nodes(b, f);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Execution

struct State<'a> {
    root: Val<'a>,
    vars: Vec<(String, Val<'a>)>,
    header: bool,
    steps: usize,
}

/// A bound on the work one row may cost (ranges over huge values in hostile files).
const MAX_STEPS: usize = 1_000_000;

impl<'a> State<'a> {
    fn walk(&mut self, nodes: &[Node], dot: &Val<'a>, out: &mut String) -> Result<(), String> {
        for n in nodes {
            self.steps += 1;
            if self.steps > MAX_STEPS {
                return Err("template too costly for this input".to_owned());
            }
            match n {
                Node::Text(t) => out.push_str(t),
                Node::Action(p) => {
                    let v = self.pipeline(p, dot)?;
                    if p.decl.is_empty() {
                        out.push_str(&v.print());
                    }
                }
                Node::If(p, a, b) => {
                    let mark = self.vars.len();
                    let v = self.pipeline(p, dot)?;
                    let r = if v.truthy() {
                        self.walk(a, dot, out)
                    } else {
                        self.walk(b, dot, out)
                    };
                    self.vars.truncate(mark);
                    r?;
                }
                Node::With(p, a, b) => {
                    let mark = self.vars.len();
                    let v = self.pipeline(p, dot)?;
                    let r = if v.truthy() {
                        self.walk(a, &v, out)
                    } else {
                        self.walk(b, dot, out)
                    };
                    self.vars.truncate(mark);
                    r?;
                }
                Node::Range(p, a, b) => {
                    let mut q = p.clone();
                    let names = std::mem::take(&mut q.decl);
                    let v = self.pipeline(&q, dot)?;
                    let items: Vec<(Value, Value)> = match v.to_json() {
                        Value::Array(xs) => xs
                            .into_iter()
                            .enumerate()
                            .map(|(i, x)| (Value::from(i), x))
                            .collect(),
                        Value::Object(m) => {
                            m.into_iter().map(|(k, x)| (Value::String(k), x)).collect()
                        }
                        Value::Null => Vec::new(),
                        other if matches!(v, Val::Missing) => {
                            let _ = other;
                            Vec::new()
                        }
                        other => {
                            return Err(format!("range can't iterate over {}", print_value(&other)))
                        }
                    };
                    if items.is_empty() {
                        self.walk(b, dot, out)?;
                        continue;
                    }
                    for (k, x) in items {
                        let mark = self.vars.len();
                        match names.len() {
                            0 => {}
                            1 => self.vars.push((names[0].clone(), Val::Json(x.clone()))),
                            _ => {
                                self.vars.push((names[0].clone(), Val::Json(k)));
                                self.vars.push((names[1].clone(), Val::Json(x.clone())));
                            }
                        }
                        let r = self.walk(a, &Val::Json(x), out);
                        self.vars.truncate(mark);
                        r?;
                    }
                }
            }
        }
        Ok(())
    }

    fn pipeline(&mut self, p: &Pipeline, dot: &Val<'a>) -> Result<Val<'a>, String> {
        let mut piped: Option<Val<'a>> = None;
        for c in &p.cmds {
            piped = Some(self.command(c, dot, piped)?);
        }
        let v = piped.unwrap_or(Val::Missing);
        if !p.decl.is_empty() {
            let name = p.decl.last().cloned().unwrap_or_default();
            if p.assign {
                if let Some(slot) = self.vars.iter_mut().rev().find(|(n, _)| *n == name) {
                    slot.1 = v.clone();
                } else {
                    return Err(format!("undefined variable: {name}"));
                }
            } else {
                self.vars.push((name, v.clone()));
            }
        }
        Ok(v)
    }

    fn command(
        &mut self,
        c: &Cmd,
        dot: &Val<'a>,
        piped: Option<Val<'a>>,
    ) -> Result<Val<'a>, String> {
        match &c.args[0] {
            Arg::Func(name) => {
                let mut args = Vec::with_capacity(c.args.len());
                for a in &c.args[1..] {
                    args.push(self.operand(a, dot)?);
                }
                if let Some(p) = piped {
                    args.push(p);
                }
                self.call(name, args)
            }
            Arg::Field(path) if c.args.len() > 1 || piped.is_some() => {
                // A method call: docker's `.Label "key"`.
                let mut args = Vec::new();
                for a in &c.args[1..] {
                    args.push(self.operand(a, dot)?);
                }
                if let Some(p) = piped {
                    args.push(p);
                }
                method(dot, path, &args)
            }
            _ => {
                if c.args.len() > 1 || piped.is_some() {
                    return Err("can't give argument to non-function".to_owned());
                }
                self.operand(&c.args[0], dot)
            }
        }
    }

    fn operand(&mut self, a: &Arg, dot: &Val<'a>) -> Result<Val<'a>, String> {
        Ok(match a {
            Arg::Dot => dot.clone(),
            Arg::Field(path) => field(dot, path)?,
            Arg::Var(name, path) => {
                let base = if name == "$" {
                    self.root.clone()
                } else {
                    self.vars
                        .iter()
                        .rev()
                        .find(|(n, _)| n == name)
                        .map(|(_, v)| v.clone())
                        .ok_or_else(|| format!("undefined variable: {name}"))?
                };
                if path.is_empty() {
                    base
                } else {
                    field(&base, path)?
                }
            }
            Arg::Func(name) => self.call(name, Vec::new())?,
            Arg::Str(s) => Val::Json(Value::String(s.clone())),
            Arg::Num(f, i) => Val::Json(match i {
                Some(i) => Value::from(*i),
                None => serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number),
            }),
            Arg::Bool(b) => Val::Json(Value::Bool(*b)),
            Arg::Nil => Val::Json(Value::Null),
            Arg::Sub(p) => self.pipeline(p, dot)?,
        })
    }

    fn call(&mut self, name: &str, args: Vec<Val<'a>>) -> Result<Val<'a>, String> {
        let s = |v: &Val<'_>| v.as_str().map_or_else(|| v.print(), str::to_owned);
        let want = |n: usize| -> Result<(), String> {
            if args.len() == n {
                Ok(())
            } else {
                Err(format!(
                    "wrong number of args for {name}: want {n} got {}",
                    args.len()
                ))
            }
        };
        let text = |t: String| Ok(Val::Json(Value::String(t)));
        // docker's header functions give the column name back untouched.
        if self.header
            && matches!(
                name,
                "json" | "split" | "join" | "title" | "lower" | "upper" | "truncate"
            )
        {
            return Ok(args.into_iter().next().unwrap_or(Val::Missing));
        }
        match name {
            "json" => {
                want(1)?;
                let html = matches!(args[0], Val::Row(_));
                text(go_json(&args[0].to_json(), html))
            }
            "lower" => {
                want(1)?;
                text(s(&args[0]).to_lowercase())
            }
            "upper" => {
                want(1)?;
                text(s(&args[0]).to_uppercase())
            }
            "title" => {
                want(1)?;
                text(title(&s(&args[0])))
            }
            "split" => {
                want(2)?;
                let sep = s(&args[1]);
                let parts: Vec<Value> = if sep.is_empty() {
                    s(&args[0])
                        .chars()
                        .map(|c| Value::String(c.to_string()))
                        .collect()
                } else {
                    s(&args[0])
                        .split(sep.as_str())
                        .map(|p| Value::String(p.to_owned()))
                        .collect()
                };
                Ok(Val::Json(Value::Array(parts)))
            }
            "join" => {
                want(2)?;
                let sep = s(&args[1]);
                match args[0].to_json() {
                    Value::Null => text(String::new()),
                    Value::Array(xs) => {
                        text(xs.iter().map(print_value).collect::<Vec<_>>().join(&sep))
                    }
                    Value::Object(m) => {
                        let mut vs: Vec<String> = m.values().map(print_value).collect();
                        vs.sort();
                        text(vs.join(&sep))
                    }
                    Value::String(_) => Err(format!(
                        "error calling join: expected slice, got string (in docker's listings {} is already joined text)",
                        s(&args[0])
                    )),
                    other => Err(format!(
                        "error calling join: expected slice, got {}",
                        print_value(&other)
                    )),
                }
            }
            "pad" => {
                want(3)?;
                let src = s(&args[0]);
                let n = |v: &Val<'_>| v.to_json().as_u64().unwrap_or(0).min(1024) as usize;
                if src.is_empty() {
                    text(src)
                } else {
                    text(format!(
                        "{}{src}{}",
                        " ".repeat(n(&args[1])),
                        " ".repeat(n(&args[2]))
                    ))
                }
            }
            "truncate" => {
                want(2)?;
                let src = s(&args[0]);
                let n = args[1].to_json().as_u64().unwrap_or(0) as usize;
                if src.len() < n {
                    text(src)
                } else {
                    // Go cuts bytes; keep whole characters.
                    let mut end = n.min(src.len());
                    while !src.is_char_boundary(end) {
                        end -= 1;
                    }
                    text(src[..end].to_owned())
                }
            }
            "index" => {
                if args.is_empty() {
                    return Err("wrong number of args for index: want at least 1 got 0".to_owned());
                }
                let mut cur = args[0].clone();
                for k in &args[1..] {
                    cur = match (cur.to_json(), k.to_json()) {
                        (Value::Object(m), Value::String(key)) => match &cur {
                            Val::Row(r) => {
                                r.fields.get(&key).cloned().map_or(Val::Missing, Val::Json)
                            }
                            _ => m.get(&key).cloned().map_or(Val::Missing, Val::Json),
                        },
                        (Value::Array(xs), Value::Number(n)) => {
                            let i = n.as_u64().unwrap_or(u64::MAX) as usize;
                            match xs.get(i) {
                                Some(x) => Val::Json(x.clone()),
                                None => {
                                    return Err(format!(
                                        "error calling index: index out of range: {n}"
                                    ))
                                }
                            }
                        }
                        (Value::Null, _) => Val::Missing,
                        (c, k) => {
                            return Err(format!(
                                "error calling index: can't index {} with {}",
                                print_value(&c),
                                print_value(&k)
                            ))
                        }
                    };
                }
                Ok(cur)
            }
            "len" => {
                want(1)?;
                let n = match args[0].to_json() {
                    Value::String(x) => x.len(),
                    Value::Array(x) => x.len(),
                    Value::Object(x) => x.len(),
                    other => {
                        return Err(format!("error calling len: len of {}", print_value(&other)))
                    }
                };
                Ok(Val::Json(Value::from(n)))
            }
            "print" | "println" => {
                let mut t = String::new();
                for (i, a) in args.iter().enumerate() {
                    let is_str = a.as_str().is_some();
                    let prev_str = i > 0 && args[i - 1].as_str().is_some();
                    if i > 0 && (name == "println" || (!is_str && !prev_str)) {
                        t.push(' ');
                    }
                    t.push_str(&a.print());
                }
                if name == "println" {
                    t.push('\n');
                }
                text(t)
            }
            "printf" => {
                if args.is_empty() {
                    return Err("wrong number of args for printf: want at least 1 got 0".to_owned());
                }
                text(printf(&s(&args[0]), &args[1..]))
            }
            "not" => {
                want(1)?;
                Ok(Val::Json(Value::Bool(!args[0].truthy())))
            }
            "and" | "or" => {
                if args.is_empty() {
                    return Err(format!("wrong number of args for {name}"));
                }
                for a in &args {
                    let t = a.truthy();
                    if (name == "and" && !t) || (name == "or" && t) {
                        return Ok(a.clone());
                    }
                }
                Ok(args.last().cloned().unwrap_or(Val::Missing))
            }
            "eq" | "ne" | "lt" | "le" | "gt" | "ge" => {
                if args.len() < 2 {
                    return Err(format!("missing argument for comparison ({name})"));
                }
                let a = args[0].to_json();
                let result = if name == "eq" {
                    args[1..].iter().any(|b| a == b.to_json())
                } else {
                    let b = args[1].to_json();
                    let ord = match (&a, &b) {
                        (Value::Number(x), Value::Number(y)) => x
                            .as_f64()
                            .partial_cmp(&y.as_f64())
                            .ok_or("incomparable numbers")?,
                        (Value::String(x), Value::String(y)) => x.cmp(y),
                        _ if name == "ne" => {
                            return Ok(Val::Json(Value::Bool(a != b)));
                        }
                        _ => return Err(format!("incompatible types for comparison ({name})")),
                    };
                    match name {
                        "ne" => ord.is_ne(),
                        "lt" => ord.is_lt(),
                        "le" => ord.is_le(),
                        "gt" => ord.is_gt(),
                        _ => ord.is_ge(),
                    }
                };
                Ok(Val::Json(Value::Bool(result)))
            }
            other => Err(format!("function {other:?} not defined")),
        }
    }
}

/// `.A.B` on a value.
fn field<'a>(dot: &Val<'a>, path: &[String]) -> Result<Val<'a>, String> {
    let mut cur = dot.clone();
    for name in path {
        cur = match &cur {
            Val::Row(r) => match r.fields.get(name) {
                Some(v) => Val::Json(v.clone()),
                None if name == "Label" => {
                    return Err("wrong number of args for Label: want 1 got 0".to_owned())
                }
                None => return Err(format!("can't evaluate field {name}")),
            },
            Val::Header(h) => h
                .iter()
                .find(|(k, _)| *k == name)
                .map_or(Val::Missing, |(_, v)| {
                    Val::Json(Value::String((*v).to_owned()))
                }),
            Val::Json(Value::Object(m)) => m.get(name).cloned().map_or(Val::Missing, Val::Json),
            Val::Json(Value::Null) | Val::Missing => Val::Missing,
            Val::Json(other) => {
                return Err(format!(
                    "can't evaluate field {name} in {}",
                    print_value(other)
                ))
            }
        };
    }
    Ok(cur)
}

/// A method with arguments: docker's `.Label "key"` (listing rows and their headers).
fn method<'a>(dot: &Val<'a>, path: &[String], args: &[Val<'a>]) -> Result<Val<'a>, String> {
    let (last, base) = path.split_last().ok_or("empty field")?;
    let recv = field(dot, base)?;
    if last != "Label" {
        return Err(format!("{last} is not a method but has arguments"));
    }
    if args.len() != 1 {
        return Err(format!(
            "wrong number of args for Label: want 1 got {}",
            args.len()
        ));
    }
    let key = args[0]
        .as_str()
        .map_or_else(|| args[0].print(), str::to_owned);
    match recv {
        Val::Row(r) => Ok(Val::Json(Value::String(
            r.labels.get(&key).cloned().unwrap_or_default(),
        ))),
        // The header of `{{.Label "com.example.x"}}` is `x`, as docker makes it.
        Val::Header(_) => {
            let last = key.rsplit('.').next().unwrap_or(&key);
            Ok(Val::Json(Value::String(last.replace(['-', '_'], " "))))
        }
        _ => Err("can't call method Label here".to_owned()),
    }
}

fn title(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut prev_letter = false;
    for c in s.chars() {
        if prev_letter {
            out.push(c);
        } else {
            out.extend(c.to_uppercase());
        }
        prev_letter = c.is_alphanumeric() || c == '_' || c == '\'';
    }
    out
}

/// Go's `fmt.Sprintf` for the verbs scripts use: `%s %v %d %q %%`, with widths.
fn printf(fmt: &str, args: &[Val<'_>]) -> String {
    let mut out = String::new();
    let mut chars = fmt.chars().peekable();
    let mut next = 0usize;
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut spec = String::new();
        while let Some(&d) = chars.peek() {
            if d == '-' || d.is_ascii_digit() {
                spec.push(d);
                chars.next();
            } else {
                break;
            }
        }
        let Some(verb) = chars.next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        let Some(a) = args.get(next) else {
            let _ = write!(out, "%!{verb}(MISSING)");
            continue;
        };
        next += 1;
        let body = match verb {
            'q' => go_json(&Value::String(a.print()), false),
            _ => a.print(),
        };
        let left = spec.starts_with('-');
        let width: usize = spec.trim_start_matches('-').parse().unwrap_or(0);
        let pad = width.saturating_sub(body.chars().count());
        if left {
            out.push_str(&body);
            out.push_str(&" ".repeat(pad));
        } else {
            out.push_str(&" ".repeat(pad));
            out.push_str(&body);
        }
    }
    out
}

// ---------------------------------------------------------------------------------------
// docker's tabwriter (Go's text/tabwriter: cells end at a tab; the text after a line's last
// tab is not a column; each column as wide as its widest cell plus the padding, at least
// `minwidth`, over each run of lines that have that column).

pub fn tabwrite(text: &str, minwidth: usize, padding: usize) -> String {
    let mut lines: Vec<Vec<&str>> = text.split('\n').map(|l| l.split('\t').collect()).collect();
    // The text after the last newline is an unterminated last line.
    let trailing = lines.pop().map(|l| l.join("\t")).unwrap_or_default();
    let mut out = String::new();
    let mut widths = Vec::new();
    format_block(
        &lines,
        0,
        lines.len(),
        &mut widths,
        minwidth,
        padding,
        &mut out,
    );
    out.push_str(&trailing);
    out
}

fn width(s: &str) -> usize {
    s.chars().count()
}

fn format_block(
    lines: &[Vec<&str>],
    line0: usize,
    line1: usize,
    widths: &mut Vec<usize>,
    minwidth: usize,
    padding: usize,
    out: &mut String,
) {
    let column = widths.len();
    let mut line0 = line0;
    let mut this = line0;
    while this < line1 {
        if column + 1 >= lines[this].len() {
            this += 1;
            continue;
        }
        write_lines(lines, line0, this, widths, out);
        line0 = this;
        let mut w = minwidth;
        while this < line1 && column + 1 < lines[this].len() {
            w = w.max(width(lines[this][column]) + padding);
            this += 1;
        }
        widths.push(w);
        format_block(lines, line0, this, widths, minwidth, padding, out);
        widths.pop();
        line0 = this;
    }
    write_lines(lines, line0, line1, widths, out);
}

fn write_lines(
    lines: &[Vec<&str>],
    line0: usize,
    line1: usize,
    widths: &[usize],
    out: &mut String,
) {
    for line in &lines[line0..line1] {
        for (j, cell) in line.iter().enumerate() {
            out.push_str(cell);
            if j < widths.len() && j + 1 < line.len() {
                out.push_str(&" ".repeat(widths[j].saturating_sub(width(cell))));
            }
        }
        out.push('\n');
    }
}

// ---------------------------------------------------------------------------------------
// docker's units and times, for the fields the templates read

/// `units.HumanSizeWithPrecision`: decimal units, `%.*g` significant digits (docker's
/// listings use 3, `VirtualSize`/`SharedSize`/volume sizes use 4).
pub fn go_human_size(bytes: u64, precision: usize) -> String {
    const UNITS: [&str; 9] = ["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"];
    let mut size = bytes as f64;
    let mut i = 0;
    while size >= 1000.0 && i < UNITS.len() - 1 {
        size /= 1000.0;
        i += 1;
    }
    format!("{}{}", go_g(size, precision), UNITS[i])
}

/// Go's `%.*g` of a non-negative number.
pub fn go_g(v: f64, precision: usize) -> String {
    let p = precision.max(1);
    if v == 0.0 {
        return "0".to_owned();
    }
    let e = format!("{:.*e}", p - 1, v);
    let (mant, exp) = e.split_once('e').unwrap_or((&e, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let trim = |s: &str| -> String {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_owned()
        } else {
            s.to_owned()
        }
    };
    let p_i = i32::try_from(p).unwrap_or(i32::MAX);
    if exp < -4 || exp >= p_i {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{}e{sign}{:02}", trim(mant), exp.abs())
    } else {
        let decimals = usize::try_from(p_i - 1 - exp).unwrap_or(0);
        trim(&format!("{v:.decimals$}"))
    }
}

/// `units.HumanDuration`.
pub fn human_duration(seconds: i64) -> String {
    let s = seconds;
    if s < 1 {
        return "Less than a second".to_owned();
    }
    if s == 1 {
        return "1 second".to_owned();
    }
    if s < 60 {
        return format!("{s} seconds");
    }
    let minutes = s / 60;
    if minutes == 1 {
        return "About a minute".to_owned();
    }
    if minutes < 60 {
        return format!("{minutes} minutes");
    }
    let hours = (s + 1800) / 3600;
    if hours == 1 {
        return "About an hour".to_owned();
    }
    if hours < 48 {
        return format!("{hours} hours");
    }
    if hours < 24 * 7 * 2 {
        return format!("{} days", hours / 24);
    }
    if hours < 24 * 30 * 2 {
        return format!("{} weeks", hours / 24 / 7);
    }
    if hours < 24 * 365 * 2 {
        return format!("{} months", hours / 24 / 30);
    }
    format!("{} years", s / 3600 / 24 / 365)
}

/// "N units ago" from a Unix time, as docker's `CreatedSince`/`RunningFor`.
pub fn since(unix: i64) -> String {
    let now = crate::clock::now().as_second();
    format!("{} ago", human_duration(now - unix))
}

/// An RFC 3339 time as Unix seconds.
pub fn unix_seconds(t: &str) -> Option<i64> {
    t.parse::<jiff::Timestamp>()
        .ok()
        .map(jiff::Timestamp::as_second)
}

/// Go's `time.Unix(s, 0).String()` in UTC: `2026-11-25 14:33:15 +0000 UTC`.
pub fn go_time_string(unix: i64) -> String {
    jiff::Timestamp::from_second(unix).map_or_else(
        |_| String::new(),
        |ts| ts.strftime("%Y-%m-%d %H:%M:%S +0000 UTC").to_string(),
    )
}

/// Go's `time.Unix(s, 0).Format(time.RFC3339)` in UTC.
pub fn go_rfc3339(unix: i64) -> String {
    jiff::Timestamp::from_second(unix).map_or_else(
        |_| String::new(),
        |ts| ts.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
    )
}

/// docker's `TruncateID`: what follows the first `:`, at most 12 characters.
pub fn truncate_id(id: &str) -> String {
    let s = id.split_once(':').map_or(id, |(_, rest)| rest);
    s.chars().take(12).collect()
}

/// Template output for a terminal: control characters from a hostile root are shown
/// escaped; tabs and newlines (the template's own layout) are kept.
pub fn scrub(s: &str) -> String {
    if !s.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return s.to_owned();
    }
    s.chars()
        .map(|c| {
            if c.is_control() && c != '\n' && c != '\t' {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// Labels as docker's listings join them: `k=v` sorted, comma-separated.
pub fn join_labels(labels: &BTreeMap<String, String>) -> String {
    labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: Headers = &[
        ("ID", "IMAGE ID"),
        ("Repository", "REPOSITORY"),
        ("Tag", "TAG"),
    ];

    fn row(id: &str, repo: &str, tag: &str) -> Row {
        let mut r = Row::new();
        r.set("ID", id).set("Repository", repo).set("Tag", tag);
        r.labels.insert("org.example.role".into(), "app".into());
        r
    }

    fn render(fmt: &str, rows: &[Row]) -> Result<String, FormatError> {
        parse(Some(fmt))?.expect("a template").render_rows(H, rows)
    }

    #[test]
    fn plain_fields_and_escapes() {
        let rows = [row("abc", "app", "1"), row("def", "base", "latest")];
        assert_eq!(
            render("{{.Repository}}:{{.Tag}}", &rows).unwrap(),
            "app:1\nbase:latest\n"
        );
        assert_eq!(
            render("{{.ID}}\\t{{.Tag}}", &rows).unwrap(),
            "abc\t1\ndef\tlatest\n"
        );
        assert_eq!(
            render("{{.Label \"org.example.role\"}}", &rows).unwrap(),
            "app\napp\n"
        );
        assert_eq!(
            render("{{.Repository | upper}} {{lower \"X\"}}", &rows[..1]).unwrap(),
            "APP x\n"
        );
        assert_eq!(
            render("{{if eq .Tag \"1\"}}one{{else}}other{{end}}", &rows).unwrap(),
            "one\nother\n"
        );
        assert_eq!(
            render("{{join (split .Repository \"p\") \"-\"}}", &rows[..1]).unwrap(),
            "a--\n"
        );
    }

    #[test]
    fn table_header_and_alignment_as_docker() {
        let rows = [
            row("abc", "app", "1"),
            row("def", "a-much-longer-name", "2"),
        ];
        let out = render("table {{.ID}}\\t{{.Repository}}\\t{{.Tag}}", &rows).unwrap();
        assert_eq!(
            out,
            "IMAGE ID   REPOSITORY           TAG\n\
             abc        app                  1\n\
             def        a-much-longer-name   2\n"
        );
        // The header of a label column is the key's last part.
        let out = render("table {{.Label \"org.example.role\"}}", &rows).unwrap();
        assert_eq!(out, "role\napp\napp\n");
    }

    #[test]
    fn json_as_go_prints_it() {
        let mut r = row("abc", "a<b", "1");
        r.set_value("Platform", Value::Null);
        let out = render("{{json .}}", &[r.clone()]).unwrap();
        assert_eq!(
            out,
            "{\"ID\":\"abc\",\"Platform\":null,\"Repository\":\"a\\u003cb\",\"Tag\":\"1\"}\n"
        );
        assert_eq!(render("{{json .Repository}}", &[r]).unwrap(), "\"a<b\"\n");
        assert_eq!(
            parse(Some("json"))
                .unwrap()
                .unwrap()
                .render_rows(H, &[row("x", "y", "z")])
                .unwrap(),
            "{\"ID\":\"x\",\"Repository\":\"y\",\"Tag\":\"z\"}\n"
        );
    }

    #[test]
    fn bad_templates_are_errors() {
        for bad in [
            "{{.ID",
            "{{nosuchfunc .ID}}",
            "{{if .ID}}x",
            "{{end}}",
            "{{.ID}}{{else}}",
            "{{\"unterminated}}",
            "{{}}",
        ] {
            assert!(parse(Some(bad)).is_err(), "{bad}");
        }
        let t = parse(Some("{{.Nope}}")).unwrap().unwrap();
        assert!(t.check_fields(&["ID", "Repository", "Tag"]).is_err());
        assert!(t.render_rows(H, &[row("a", "b", "c")]).is_err());
        let ok = parse(Some("{{range .X}}{{.Whatever}}{{end}}{{.ID}}"))
            .unwrap()
            .unwrap();
        assert!(ok.check_fields(&["ID", "X"]).is_ok());
    }

    #[test]
    fn deep_nesting_is_refused_not_a_crash() {
        let deep = format!("{{{{{}.ID{}}}}}", "(".repeat(10_000), ")".repeat(10_000));
        assert!(parse(Some(&deep)).is_err());
        let deep = format!(
            "{}x{}",
            "{{if .ID}}".repeat(10_000),
            "{{end}}".repeat(10_000)
        );
        assert!(parse(Some(&deep)).is_err());
        let ok = format!("{}x{}", "{{if .ID}}".repeat(50), "{{end}}".repeat(50));
        assert_eq!(
            parse(Some(&ok))
                .unwrap()
                .unwrap()
                .render_rows(H, &[row("a", "b", "c")])
                .unwrap(),
            "x\n"
        );
    }

    #[test]
    fn defaults() {
        assert!(parse(None).unwrap().is_none());
        assert!(parse(Some("table")).unwrap().is_none());
        assert!(parse(Some("")).unwrap().is_none());
    }

    #[test]
    fn values_as_inspect_gives_them() {
        let v: Value = serde_json::json!({
            "Id": "abc", "State": {"Status": "exited", "ExitCode": 3},
            "Config": {"Labels": {"a.b": "1"}, "Env": ["A=1", "B=2"]}
        });
        let t = parse(Some(
            "{{.State.Status}} {{.State.ExitCode}} {{index .Config.Labels \"a.b\"}} {{range .Config.Env}}[{{.}}]{{end}} {{json .Config.Env}} {{.Nope}}",
        ))
        .unwrap()
        .unwrap();
        assert_eq!(
            t.render_values(&[v]).unwrap(),
            "exited 3 1 [A=1][B=2] [\"A=1\",\"B=2\"] <no value>\n"
        );
    }

    #[test]
    fn go_units() {
        assert_eq!(go_human_size(1_982_687, 3), "1.98MB");
        assert_eq!(go_human_size(1_999_494, 3), "2MB");
        assert_eq!(go_human_size(1_999_494, 4), "1.999MB");
        assert_eq!(go_human_size(816, 3), "816B");
        assert_eq!(go_human_size(0, 3), "0B");
        assert_eq!(go_human_size(999_999, 3), "1e+03kB");
        assert_eq!(go_human_size(16_384, 3), "16.4kB");
        assert_eq!(human_duration(0), "Less than a second");
        assert_eq!(human_duration(59), "59 seconds");
        assert_eq!(human_duration(90), "About a minute");
        assert_eq!(human_duration(3 * 86_400 + 100), "3 days");
        assert_eq!(human_duration(20 * 86_400), "2 weeks");
        assert_eq!(
            go_time_string(1_795_617_195),
            "2026-11-25 14:33:15 +0000 UTC"
        );
        assert_eq!(go_rfc3339(1_795_617_195), "2026-11-25T14:33:15Z");
        assert_eq!(truncate_id("sha256:41398a00df934fc8d59c"), "41398a00df93");
        assert_eq!(truncate_id("<missing>"), "<missing>");
    }

    #[test]
    fn trimming_and_comments() {
        let rows = [row("abc", "app", "1")];
        assert_eq!(
            render("{{- .ID -}} , {{/* note */}}{{.Tag}}", &rows).unwrap(),
            "abc, 1\n"
        );
        assert_eq!(
            render("{{$t := .Tag}}{{.ID}}={{$t}}", &rows).unwrap(),
            "abc=1\n"
        );
    }
}
