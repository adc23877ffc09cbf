//! Colour for people at a terminal: container states and findings, painted on the
//! finished text line by line (tables are laid out first, so the escapes never change a
//! column's width). JSON, `--print0`, logs and docker-exact tables are never painted.

use anstyle::{AnsiColor, Style};
use std::io::{self, Write};

/// `--color` resolved: `always`, `never`, or `auto` (a terminal, and `NO_COLOR` unset
/// or empty, as no-color.org asks).
pub fn enabled(when: crate::cli::ColorWhen, is_terminal: bool, no_color: Option<&str>) -> bool {
    match when {
        crate::cli::ColorWhen::Always => true,
        crate::cli::ColorWhen::Never => false,
        crate::cli::ColorWhen::Auto => is_terminal && no_color.is_none_or(str::is_empty),
    }
}

fn style(c: AnsiColor, bold: bool) -> Style {
    let s = Style::new().fg_color(Some(c.into()));
    if bold {
        s.bold()
    } else {
        s
    }
}

/// The words painted, and how: states as `docker ps` words them, then findings.
fn rules() -> Vec<(&'static str, Style)> {
    vec![
        ("Up (Paused)", style(AnsiColor::Yellow, false)),
        ("(Paused)", style(AnsiColor::Yellow, false)),
        ("Restarting", style(AnsiColor::Yellow, false)),
        ("Removal In Progress", style(AnsiColor::Yellow, false)),
        ("Up ", style(AnsiColor::Green, false)),
        ("Exited (0)", Style::new().dimmed()),
        ("Exited (", style(AnsiColor::Red, false)),
        ("Created", style(AnsiColor::Cyan, false)),
        ("Dead", style(AnsiColor::Red, true)),
        ("FAIL", style(AnsiColor::Red, true)),
        ("OK", style(AnsiColor::Green, true)),
        ("mismatch", style(AnsiColor::Red, false)),
        ("cannot judge", style(AnsiColor::Yellow, false)),
        ("(not reclaimable)", style(AnsiColor::Yellow, false)),
        ("reclaimable", style(AnsiColor::Green, false)),
        ("nobody (orphan)", style(AnsiColor::Red, false)),
    ]
}

/// Paint one line: each rule's words, leftmost first, never inside another's.
pub fn paint(line: &str) -> String {
    let rules = rules();
    let mut out = String::with_capacity(line.len() + 16);
    let mut rest = line;
    loop {
        let hit = rules
            .iter()
            .filter_map(|(w, s)| rest.find(w).map(|at| (at, *w, *s)))
            .min_by_key(|(at, w, _)| (*at, std::cmp::Reverse(w.len())));
        let Some((at, word, s)) = hit else {
            out.push_str(rest);
            return out;
        };
        // Keep the trailing space of "Up " unpainted.
        let painted = word.trim_end();
        out.push_str(&rest[..at]);
        out.push_str(&s.render().to_string());
        out.push_str(painted);
        out.push_str(&s.render_reset().to_string());
        rest = &rest[at + painted.len()..];
    }
}

/// A writer that paints whole lines as they pass.
pub struct Painter<'a> {
    inner: &'a mut dyn Write,
    line: Vec<u8>,
}

impl<'a> Painter<'a> {
    pub fn new(inner: &'a mut dyn Write) -> Self {
        Painter {
            inner,
            line: Vec::new(),
        }
    }
    fn emit(&mut self) -> io::Result<()> {
        let text = String::from_utf8_lossy(&self.line).into_owned();
        self.inner.write_all(paint(&text).as_bytes())?;
        self.line.clear();
        Ok(())
    }
}

impl Write for Painter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        for &b in buf {
            self.line.push(b);
            if b == b'\n' {
                self.emit()?;
            }
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        if !self.line.is_empty() {
            self.emit()?;
        }
        self.inner.flush()
    }
}

impl Drop for Painter<'_> {
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paints_states_and_findings() {
        use crate::cli::ColorWhen;
        let p = paint("c1  Up (Paused) (recorded paused at capture)  x");
        assert!(p.contains("\u{1b}[33mUp (Paused)\u{1b}[0m"), "{p:?}");
        let p = paint("Exited (137) 2026  Exited (0) 2026");
        assert!(p.contains("\u{1b}[31mExited (\u{1b}[0m137)"), "{p:?}");
        assert!(p.contains("\u{1b}[2mExited (0)\u{1b}[0m"), "{p:?}");
        assert_eq!(paint("nothing here"), "nothing here");
        let p = paint("Up (recorded running at capture)");
        assert!(p.starts_with("\u{1b}[32mUp\u{1b}[0m "), "{p:?}");
        assert!(enabled(ColorWhen::Auto, true, None));
        assert!(enabled(ColorWhen::Auto, true, Some("")));
        assert!(!enabled(ColorWhen::Auto, true, Some("1")));
        assert!(!enabled(ColorWhen::Auto, false, None));
        assert!(enabled(ColorWhen::Always, false, Some("1")));
        assert!(!enabled(ColorWhen::Never, true, None));
    }
}
