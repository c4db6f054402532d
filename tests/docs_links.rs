//! Every relative link in the documentation resolves: README.md, docs/*.md and tests/README.md.
//!
//! A link's file (or directory) must exist, relative to the page that links to it, and its
//! `#anchor`, in the page itself or in `page.md#anchor`, must be the slug of a heading of the
//! target page as GitHub makes it: lowercase, spaces to `-`, punctuation other than `-` and `_`
//! dropped, a repeated heading's slug followed by `-1`, `-2`, ... Links to http(s) and mailto
//! are not followed; code (fenced blocks and inline `code`) holds no links. Also: the README
//! stays a front page, at most 320 lines.

use std::collections::HashMap;
use std::fs;
use std::path::{Component, Path, PathBuf};

const README_MAX_LINES: usize = 320;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The pages checked, relative to the repository's root.
fn pages() -> Vec<PathBuf> {
    let mut pages = vec![PathBuf::from("README.md"), PathBuf::from("tests/README.md")];
    let mut docs: Vec<PathBuf> = fs::read_dir(root().join("docs"))
        .expect("docs/ exists")
        .map(|entry| entry.expect("docs/ entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "md"))
        .map(|path| PathBuf::from("docs").join(path.file_name().expect("a file name")))
        .collect();
    docs.sort();
    pages.extend(docs);
    pages
}

/// The text with fenced code blocks blanked (their lines kept, empty, so line numbers hold).
fn without_fences(text: &str) -> String {
    let mut fence: Option<(char, usize)> = None;
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        let trimmed = line.trim_start();
        let marker = trimmed.chars().next().filter(|c| *c == '`' || *c == '~');
        let run = marker.map_or(0, |m| trimmed.chars().take_while(|c| *c == m).count());
        match (fence, marker) {
            (None, Some(m)) if run >= 3 => fence = Some((m, run)),
            (Some((m, n)), Some(c)) if c == m && run >= n && trimmed[run..].trim().is_empty() => {
                fence = None
            }
            (None, _) => out.push_str(line),
            _ => {}
        }
        out.push('\n');
    }
    out
}

/// The text with inline code spans blanked (newlines kept). A run of backticks opens a span that
/// the next run of the same length closes; one that is never closed is text.
fn without_code_spans(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        if chars[i] != '`' {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        let run = chars[i..].iter().take_while(|c| **c == '`').count();
        let mut j = i + run;
        let mut close = None;
        while j < chars.len() {
            if chars[j] == '`' {
                let other = chars[j..].iter().take_while(|c| **c == '`').count();
                if other == run {
                    close = Some(j + other);
                    break;
                }
                j += other;
            } else {
                j += 1;
            }
        }
        match close {
            Some(end) => {
                out.extend(
                    chars[i..end]
                        .iter()
                        .map(|c| if *c == '\n' { '\n' } else { ' ' }),
                );
                i = end;
            }
            None => {
                out.extend(&chars[i..i + run]);
                i += run;
            }
        }
    }
    out
}

/// GitHub's anchor for a heading's text.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            '-' | '_' => Some(c),
            c if c.is_alphanumeric() => Some(c),
            _ => None,
        })
        .collect()
}

/// The anchors of a page's headings (ATX headings outside code), duplicates numbered.
fn anchors(text: &str) -> Vec<String> {
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut anchors = Vec::new();
    for line in without_fences(text).lines() {
        let indent = line.len() - line.trim_start_matches(' ').len();
        let line = line.trim_start_matches(' ');
        let level = line.chars().take_while(|c| *c == '#').count();
        if indent > 3 || level == 0 || level > 6 {
            continue;
        }
        let rest = &line[level..];
        if !(rest.is_empty() || rest.starts_with(' ') || rest.starts_with('\t')) {
            continue;
        }
        // A closing sequence of #s is not part of the heading.
        let rest = rest.trim();
        let rest = match rest.trim_end_matches('#') {
            kept if kept.is_empty() || kept.ends_with(' ') => kept,
            _ => rest,
        };
        let base = slug(rest);
        let count = seen.entry(base.clone()).or_insert(0);
        anchors.push(if *count == 0 {
            base.clone()
        } else {
            format!("{base}-{count}")
        });
        *count += 1;
    }
    anchors
}

/// A link found in a page: its line (1-based) and its destination as written.
#[derive(Debug)]
struct Link {
    line: usize,
    target: String,
}

/// The index just past the bracket or parenthesis that closes the one at `open`, within the
/// paragraph (a blank line ends the search).
fn closing(chars: &[char], open: usize, left: char, right: char) -> Option<usize> {
    let mut depth = 0;
    let mut i = open;
    while i < chars.len() {
        match chars[i] {
            '\\' => i += 1,
            c if c == left => depth += 1,
            c if c == right => {
                depth -= 1;
                if depth == 0 {
                    return Some(i + 1);
                }
            }
            '\n' if chars.get(i + 1) == Some(&'\n') => return None,
            _ => {}
        }
        i += 1;
    }
    None
}

/// The page's links outside code: inline `[text](destination)` (images too) and reference
/// definitions `[label]: destination`.
fn links(text: &str) -> Vec<Link> {
    let prose = without_code_spans(&without_fences(text));
    let chars: Vec<char> = prose.chars().collect();
    let line_at = |i: usize| chars[..i].iter().filter(|c| **c == '\n').count() + 1;
    let mut links = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == '\\' {
            i += 2;
            continue;
        }
        if chars[i] != '[' {
            i += 1;
            continue;
        }
        let Some(after) = closing(&chars, i, '[', ']') else {
            i += 1;
            continue;
        };
        let at_line_start = i == 0 || chars[i - 1] == '\n';
        if chars.get(after) == Some(&'(') {
            if let Some(end) = closing(&chars, after, '(', ')') {
                let inside: String = chars[after + 1..end - 1].iter().collect();
                links.push(Link {
                    line: line_at(i),
                    target: destination(&inside),
                });
                i = end;
                continue;
            }
        } else if at_line_start && chars.get(after) == Some(&':') {
            let rest: String = chars[after + 1..]
                .iter()
                .take_while(|c| **c != '\n')
                .collect();
            links.push(Link {
                line: line_at(i),
                target: destination(&rest),
            });
        }
        // Not a link: look inside the brackets too (`[see [x](y)]`).
        i += 1;
    }
    links
}

/// A destination without its title and angle brackets.
fn destination(inside: &str) -> String {
    let inside = inside.trim();
    if let Some(rest) = inside.strip_prefix('<') {
        return rest.split('>').next().unwrap_or("").to_string();
    }
    inside.split_whitespace().next().unwrap_or("").to_string()
}

/// `a/b/../c` as `a/c`, without touching the file system.
fn normalise(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// What is wrong with each relative link of `page` (relative to the root), whose text is `text`:
/// `page:line: link "target": why`.
fn broken_links(page: &Path, text: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let own_anchors = anchors(text);
    for link in links(text) {
        let target = link.target.as_str();
        let lower = target.to_lowercase();
        if lower.starts_with("http://")
            || lower.starts_with("https://")
            || lower.starts_with("mailto:")
        {
            continue;
        }
        let complain =
            |why: String| format!("{}:{}: link \"{target}\": {why}", page.display(), link.line);
        if target.is_empty() {
            problems.push(complain("empty destination".into()));
            continue;
        }
        if target.contains("://") {
            problems.push(complain("a scheme this check does not know".into()));
            continue;
        }
        let (file, anchor) = match target.split_once('#') {
            Some((file, anchor)) => (file, Some(anchor)),
            None => (target, None),
        };
        let (resolved, target_anchors) = if file.is_empty() {
            (page.to_path_buf(), own_anchors.clone())
        } else {
            let resolved = normalise(&page.parent().unwrap_or(Path::new("")).join(file));
            let on_disk = root().join(&resolved);
            if resolved.starts_with("..") || !on_disk.exists() {
                problems.push(complain(format!(
                    "no such file or directory: {}",
                    resolved.display()
                )));
                continue;
            }
            let target_anchors = match anchor {
                Some(_) if on_disk.is_file() && file.ends_with(".md") => {
                    anchors(&fs::read_to_string(&on_disk).expect("a readable page"))
                }
                Some(_) => {
                    problems.push(complain(format!(
                        "an anchor into {}, which is not a Markdown page",
                        resolved.display()
                    )));
                    continue;
                }
                None => Vec::new(),
            };
            (resolved, target_anchors)
        };
        if let Some(anchor) = anchor
            && !target_anchors.iter().any(|a| a == anchor)
        {
            problems.push(complain(format!(
                "no heading in {} has the anchor #{anchor} (its anchors: {})",
                resolved.display(),
                target_anchors.join(", ")
            )));
        }
    }
    problems
}

#[test]
fn every_relative_link_resolves() {
    let mut problems = Vec::new();
    let mut checked = 0;
    for page in pages() {
        let text = fs::read_to_string(root().join(&page))
            .unwrap_or_else(|e| panic!("{}: {e}", page.display()));
        checked += links(&text).len();
        problems.extend(broken_links(&page, &text));
    }
    assert!(
        problems.is_empty(),
        "broken links:\n{}",
        problems.join("\n")
    );
    assert!(
        checked > 50,
        "only {checked} links found: is the parser blind?"
    );
}

#[test]
fn the_readme_stays_a_front_page() {
    let readme = fs::read_to_string(root().join("README.md")).expect("README.md");
    let lines = readme.lines().count();
    assert!(
        lines <= README_MAX_LINES,
        "README.md has {lines} lines, more than {README_MAX_LINES}: move the reference into docs/"
    );
}

#[test]
fn slugs_are_githubs() {
    assert_eq!(
        slug("--wait: until the sidecars have it"),
        "--wait-until-the-sidecars-have-it"
    );
    assert_eq!(slug("apply -f"), "apply--f");
    assert_eq!(
        slug("What status reads of the mesh's scope, and what it cannot model yet"),
        "what-status-reads-of-the-meshs-scope-and-what-it-cannot-model-yet"
    );
    assert_eq!(
        slug("JSON and YAML shape (stable, for scripts)"),
        "json-and-yaml-shape-stable-for-scripts"
    );
    assert_eq!(
        slug("`status --proxies` and snake_case"),
        "status---proxies-and-snake_case"
    );
    let page =
        "# Title\n## Same\n```\n# not a heading\n```\n## Same\n## Same ##\n    # indented code\n";
    assert_eq!(anchors(page), ["title", "same", "same-1", "same-2"]);
}

#[test]
fn links_in_code_are_not_links() {
    let page = "[a](one.md) `[b](two.md)` ``[c](`x`)``\n```\n[d](three.md)\n```\n[e]: four.md\n\
                [f\nwrapped](five.md#x) [g](<six.md> \"title\") [h](https://example.org/)\n";
    let found: Vec<(usize, String)> = links(page)
        .into_iter()
        .map(|l| (l.line, l.target))
        .collect();
    assert_eq!(
        found,
        [
            (1, "one.md".to_string()),
            (5, "four.md".to_string()),
            (6, "five.md#x".to_string()),
            (7, "six.md".to_string()),
            (7, "https://example.org/".to_string()),
        ]
    );
}

#[test]
fn the_check_can_fail() {
    let page = Path::new("docs/example.md");
    let text = "# Example\n\nSee [there](missing.md), [status](status.md#no-such-heading),\n\
                [here](#example), [up](../README.md#two-commands), [nowhere](#nowhere) \
                and [the tests](../tests/) and [web](https://example.org/#x).\n";
    let problems = broken_links(page, text);
    assert_eq!(problems.len(), 3, "{problems:#?}");
    assert!(problems[0].starts_with("docs/example.md:3: link \"missing.md\": no such file"));
    assert!(problems[1].starts_with(
        "docs/example.md:3: link \"status.md#no-such-heading\": no heading in docs/status.md"
    ));
    assert!(
        problems[2]
            .starts_with("docs/example.md:4: link \"#nowhere\": no heading in docs/example.md")
    );
}
