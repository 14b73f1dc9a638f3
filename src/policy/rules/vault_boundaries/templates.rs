//! What an `agent-inject-template-*` template reads from Vault.
//!
//! The template is a consul-template Go template. Its actions sit between the
//! delimiters the pod sets for it (`agent-template-left-delim-<name>`,
//! `agent-template-right-delim-<name>`; an unset or empty one is `{{`/`}}`,
//! as in Go's `Template.Delims`); text outside actions is output, not code.
//! The lexing follows Go's `text/template/parse`: a right delimiter ends an
//! action only between tokens (never inside a string), `-` plus a space next
//! to a delimiter is a trim marker, `/* */` is a comment.
//!
//! Reference: <https://github.com/hashicorp/consul-template/blob/main/docs/templating-language.md>.

use super::paths::Decoding;

/// The delimiters of a template's actions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Delims<'a> {
    pub left: &'a str,
    pub right: &'a str,
}

impl<'a> Delims<'a> {
    pub const DEFAULT: Delims<'static> = Delims {
        left: "{{",
        right: "}}",
    };

    /// The delimiters a pod sets; an unset or empty one is the default.
    pub fn new(left: Option<&'a str>, right: Option<&'a str>) -> Delims<'a> {
        Delims {
            left: left.filter(|s| !s.is_empty()).unwrap_or("{{"),
            right: right.filter(|s| !s.is_empty()).unwrap_or("}}"),
        }
    }
}

/// The consul-template functions that reach Vault; their first argument is
/// the path.
const VAULT_FUNCTIONS: [&str; 3] = ["secret", "secrets", "pkiCert"];

/// Functions refused wherever they are called, with why: they do what the
/// refused annotations do (see `annotations`), from inside a template.
const REFUSED_FUNCTIONS: [(&str, &str); 2] = [
    (
        "plugin",
        "runs a command in the Vault Agent container, as agent-inject-command-* would",
    ),
    (
        "file",
        "reads files of the Vault Agent container, such as its Vault token, into the secrets volume, as agent-inject-token would",
    ),
];

/// What a template reads from Vault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TemplateRead {
    /// `secret "path"` and friends, with the literal path and how the Agent
    /// passes it to Vault.
    Path {
        function: &'static str,
        path: String,
        decoding: Decoding,
    },
    /// A call whose path is not a plain string literal (a variable, a
    /// pipeline, `printf`, an escape sequence): it cannot be checked.
    Unchecked { function: &'static str },
    /// A call refused whatever its arguments.
    Refused {
        function: &'static str,
        why: &'static str,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    /// An identifier; `field` when it directly follows a `.` (`.Data.secret`).
    Ident {
        name: String,
        field: bool,
    },
    /// A string literal: its text, and whether it used escape sequences.
    Str {
        text: String,
        escaped: bool,
    },
    Pipe,
    Close,
    Other,
}

/// Go's space characters around trim markers.
fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

/// Reads a quoted literal starting at `i` (on the quote); returns its text,
/// whether it used escapes, and the offset past it (or the end).
fn quoted(s: &str, i: usize, quote: char) -> (String, bool, usize) {
    let mut text = String::new();
    let mut escaped = false;
    let mut j = i + 1;
    while let Some(ch) = s[j..].chars().next() {
        j += ch.len_utf8();
        if ch == '\\' && quote != '`' {
            escaped = true;
            if let Some(next) = s[j..].chars().next() {
                j += next.len_utf8();
            }
            continue;
        }
        if ch == quote {
            break;
        }
        text.push(ch);
    }
    (text, escaped, j)
}

/// Reads one action (the text after the left delimiter) into tokens; returns
/// them and the byte offset just past the right delimiter (or the end).
fn action_tokens(s: &str, start: usize, right: &str) -> (Vec<Token>, usize) {
    let mut tokens = Vec::new();
    let mut i = start;
    // A left trim marker: `-` and a space right after the delimiter.
    let mut lead = s[i..].chars();
    if lead.next() == Some('-') && lead.next().is_some_and(is_space) {
        i += 1;
    }
    while let Some(c) = s[i..].chars().next() {
        let rest = &s[i..];
        if rest.starts_with(right) {
            return (tokens, i + right.len());
        }
        // A right trim marker: a space and `-` right before the delimiter.
        if is_space(c) && rest[1..].starts_with('-') && rest[2..].starts_with(right) {
            return (tokens, i + 2 + right.len());
        }
        if let Some(comment) = rest.strip_prefix("/*") {
            i = comment.find("*/").map_or(s.len(), |e| i + 2 + e + 2);
            continue;
        }
        match c {
            '"' | '`' | '\'' => {
                let (text, escaped, next) = quoted(s, i, c);
                tokens.push(if c == '\'' {
                    Token::Other
                } else {
                    Token::Str { text, escaped }
                });
                i = next;
            }
            '|' => {
                tokens.push(Token::Pipe);
                i += 1;
            }
            ')' => {
                tokens.push(Token::Close);
                i += 1;
            }
            c if c.is_alphabetic() || c == '_' || c == '$' => {
                let field = s[..i].ends_with('.');
                let len = rest
                    .char_indices()
                    .skip(1)
                    .find(|(_, ch)| !(ch.is_alphanumeric() || *ch == '_'))
                    .map_or(rest.len(), |(k, _)| k);
                tokens.push(Token::Ident {
                    name: rest[..len].to_string(),
                    field,
                });
                i += len;
            }
            c if c.is_whitespace() => i += c.len_utf8(),
            c => {
                tokens.push(Token::Other);
                i += c.len_utf8();
            }
        }
    }
    (tokens, s.len())
}

/// How a call passes its path to Vault (see `paths`): `secret` with only a
/// path is a read, parsed as a URL; with more arguments (written or piped
/// in) it is a write, passed on as written, like the `secrets` list;
/// `pkiCert` always parses its path.
fn decoding(function: &str, piped_in: bool, more_args: bool) -> Decoding {
    match function {
        "pkiCert" => Decoding::Once,
        "secret" if !piped_in && !more_args => Decoding::Once,
        _ => Decoding::Never,
    }
}

/// Every read from Vault (and every refused call) in a template whose
/// actions sit between `delims`, in order.
pub(crate) fn template_reads(template: &str, delims: Delims<'_>) -> Vec<TemplateRead> {
    let mut out = Vec::new();
    let mut pos = 0;
    while let Some(open) = template[pos..].find(delims.left) {
        let (tokens, next) = action_tokens(template, pos + open + delims.left.len(), delims.right);
        for (k, tok) in tokens.iter().enumerate() {
            let Token::Ident { name, field: false } = tok else {
                continue;
            };
            if let Some((function, why)) = REFUSED_FUNCTIONS.iter().find(|(f, _)| f == name) {
                out.push(TemplateRead::Refused { function, why });
                continue;
            }
            let Some(function) = VAULT_FUNCTIONS.into_iter().find(|f| f == name) else {
                continue;
            };
            let piped_in = k > 0 && tokens[k - 1] == Token::Pipe;
            out.push(match tokens.get(k + 1) {
                Some(Token::Str {
                    text,
                    escaped: false,
                }) => {
                    let more_args =
                        !matches!(tokens.get(k + 2), None | Some(Token::Close | Token::Pipe));
                    TemplateRead::Path {
                        function,
                        path: text.clone(),
                        decoding: decoding(function, piped_in, more_args),
                    }
                }
                _ => TemplateRead::Unchecked { function },
            });
        }
        pos = next;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use Decoding::{Never, Once};

    fn p(function: &'static str, path: &str, decoding: Decoding) -> TemplateRead {
        TemplateRead::Path {
            function,
            path: path.into(),
            decoding,
        }
    }

    fn unchecked(function: &'static str) -> TemplateRead {
        TemplateRead::Unchecked { function }
    }

    const SQUARE: Delims<'static> = Delims {
        left: "[[",
        right: "]]",
    };

    #[test]
    #[rustfmt::skip]
    fn cases() {
        let d = Delims::DEFAULT;
        let cases: Vec<(&str, &str, Delims, Vec<TemplateRead>)> = vec![
            ("a read", "{{ with secret \"a/b\" }}{{ .Data.data.x }}{{ end }}", d, vec![p("secret", "a/b", Once)]),
            ("a field named secret is not a call", "{{ .Data.secret }}{{ $.secret }}", d, vec![]),
            ("a variable named secret is not a call", "{{ $secret := 1 }}", d, vec![]),
            ("text outside actions is output", "secret \"x\" {{ .X }}", d, vec![]),
            ("backquoted path", "{{ secret `a/b` }}", d, vec![p("secret", "a/b", Once)]),
            ("write form: more arguments", "{{ secret \"pki/issue/x\" \"common_name=a\" }}", d, vec![p("secret", "pki/issue/x", Never)]),
            ("write form: argument piped in", "{{ \"k=v\" | secret \"a/b\" }}", d, vec![p("secret", "a/b", Never)]),
            ("read then piped on is still a read", "{{ secret \"a/b\" | toJSON }}", d, vec![p("secret", "a/b", Once)]),
            ("read in parentheses", "{{ (secret \"a/b\").Data }}", d, vec![p("secret", "a/b", Once)]),
            ("list", "{{ range secrets \"a/\" }}{{ . }}{{ end }}", d, vec![p("secrets", "a/", Never)]),
            ("pkiCert with arguments still parses its path", "{{ with pkiCert \"pki/issue/r\" \"common_name=x\" }}{{ end }}", d, vec![p("pkiCert", "pki/issue/r", Once)]),
            ("trim markers are not arguments", "{{- secret \"a/b\" -}}", d, vec![p("secret", "a/b", Once)]),
            ("a right delimiter inside a string does not end the action", "{{ secret \"a}}b\" }}", d, vec![p("secret", "a}}b", Once)]),
            ("comment", "{{/* secret \"a\" */}}{{- /* x */ -}}", d, vec![]),
            ("path from a variable", "{{ $p := \"a\" }}{{ secret $p }}", d, vec![unchecked("secret")]),
            ("path piped in", "{{ \"a\" | secret }}", d, vec![unchecked("secret")]),
            ("path with an escape sequence", "{{ secret \"\\x61\" }}", d, vec![unchecked("secret")]),
            ("plugin is refused", "{{ plugin \"/bin/sh\" \"-c\" \"id\" }}", d, vec![TemplateRead::Refused { function: "plugin", why: REFUSED_FUNCTIONS[0].1 }]),
            ("file is refused", "{{ file \"/home/vault/.vault-token\" }}", d, vec![TemplateRead::Refused { function: "file", why: REFUSED_FUNCTIONS[1].1 }]),
            // custom delimiters
            ("custom delimiters", "[[ with secret \"a/b\" ]][[ end ]]", SQUARE, vec![p("secret", "a/b", Once)]),
            ("default braces are text under custom delimiters", "{{ secret \"x\" }}", SQUARE, vec![]),
            ("custom delimiters are text under the default", "[[ secret \"x\" ]]", d, vec![]),
            ("custom trim markers", "[[- secret \"a\" -]]", SQUARE, vec![p("secret", "a", Once)]),
            ("a custom right delimiter inside a string", "[[ secret \"a]]b\" ]]", SQUARE, vec![p("secret", "a]]b", Once)]),
            ("braces inside a custom action are not delimiters", "[[ secret \"a\" }} secret \"b\" ]]", SQUARE, vec![p("secret", "a", Never), p("secret", "b", Once)]),
            ("odd delimiters", "<% secret \"a\" %>x<% secret \"b\" %>", Delims { left: "<%", right: "%>" }, vec![p("secret", "a", Once), p("secret", "b", Once)]),
        ];
        for (name, template, delims, want) in cases {
            assert_eq!(template_reads(template, delims), want, "{name}");
        }
    }

    #[test]
    fn delimiters_from_annotations() {
        assert_eq!(Delims::new(None, None), Delims::DEFAULT);
        assert_eq!(Delims::new(Some(""), Some("")), Delims::DEFAULT);
        assert_eq!(
            Delims::new(Some("[["), None),
            Delims {
                left: "[[",
                right: "}}"
            }
        );
    }

    #[test]
    fn unterminated_input_neither_panics_nor_loops() {
        for t in [
            "{{ secret \"x",
            "{{ secret `x",
            "{{",
            "{{ /* x",
            "{{ \"\\",
            "{{ é secret \"a\" }}",
            "{{ secret",
            "{{-",
            "{{ -",
            "{{ x -",
        ] {
            let _ = template_reads(t, Delims::DEFAULT);
            let _ = template_reads(t, SQUARE);
        }
    }
}
