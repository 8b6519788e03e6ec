//! Typed prompt templates.
//!
//! A template is text with `{name}` placeholders; `{{` and `}}` stand for literal braces. A task
//! declares every variable its template uses (name, type, required, default), so a template is
//! checked once when the task is saved and every execution's values are checked before anything
//! runs.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::validation::{ValidationError, check_optional_text};

/// Largest template source accepted, in bytes.
pub const MAX_TEMPLATE_BYTES: usize = 64 * 1024;
/// Largest rendered prompt, in bytes.
pub const MAX_RENDERED_BYTES: usize = 1024 * 1024;
/// Longest variable name, in characters.
const MAX_VARIABLE_NAME_CHARS: usize = 64;
const MAX_VARIABLE_DESCRIPTION_CHARS: usize = 1024;
const MAX_VARIABLES: usize = 100;

/// Why a template (or the variable declarations that go with it) is not acceptable.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("template is {size} bytes; the limit is {limit}")]
    TooLarge { size: usize, limit: usize },
    #[error("unclosed '{{' at byte {offset}; write '{{{{' for a literal brace")]
    UnclosedBrace { offset: usize },
    #[error("unmatched '}}' at byte {offset}; write '}}}}' for a literal brace")]
    UnmatchedClosingBrace { offset: usize },
    #[error(
        "invalid placeholder '{{{text}}}' at byte {offset}: names are letters, digits and '_', not starting with a digit"
    )]
    InvalidPlaceholder { offset: usize, text: String },
    #[error("template uses undeclared variables: {}", .0.join(", "))]
    UndeclaredVariables(Vec<String>),
    #[error("variable '{0}' is declared more than once")]
    DuplicateVariable(String),
    #[error("at most {limit} variables may be declared")]
    TooManyVariables { limit: usize },
    #[error("invalid variable declaration: {0}")]
    InvalidDeclaration(#[from] ValidationError),
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Placeholder(VariableName),
}

/// A parsed template: the source text and its segments.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PromptTemplate {
    source: String,
    segments: Vec<Segment>,
}

impl PromptTemplate {
    /// Parses `source`.
    ///
    /// # Errors
    /// [`TemplateError`] for a source over [`MAX_TEMPLATE_BYTES`], a lone brace, or a
    /// placeholder that is not a valid variable name.
    pub fn parse(source: impl Into<String>) -> Result<Self, TemplateError> {
        let source: String = source.into();
        if source.len() > MAX_TEMPLATE_BYTES {
            return Err(TemplateError::TooLarge {
                size: source.len(),
                limit: MAX_TEMPLATE_BYTES,
            });
        }
        let segments = parse_segments(&source)?;
        Ok(Self { source, segments })
    }

    #[must_use]
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The distinct variable names the template uses, sorted.
    #[must_use]
    pub fn placeholders(&self) -> BTreeSet<&str> {
        self.segments
            .iter()
            .filter_map(|segment| match segment {
                Segment::Placeholder(name) => Some(name.as_str()),
                Segment::Literal(_) => None,
            })
            .collect()
    }
}

fn parse_segments(source: &str) -> Result<Vec<Segment>, TemplateError> {
    let mut segments = Vec::new();
    let mut literal = String::new();
    let mut rest = source.char_indices().peekable();
    while let Some((offset, c)) = rest.next() {
        match c {
            '{' if rest.next_if(|&(_, next)| next == '{').is_some() => literal.push('{'),
            '}' if rest.next_if(|&(_, next)| next == '}').is_some() => literal.push('}'),
            '}' => return Err(TemplateError::UnmatchedClosingBrace { offset }),
            '{' => {
                let start = offset + 1;
                let Some(len) = source[start..].find(['}', '{']) else {
                    return Err(TemplateError::UnclosedBrace { offset });
                };
                let end = start + len;
                if source.as_bytes()[end] == b'{' {
                    return Err(TemplateError::UnclosedBrace { offset });
                }
                let text = &source[start..end];
                let name =
                    VariableName::new(text).map_err(|_| TemplateError::InvalidPlaceholder {
                        offset,
                        text: text.to_owned(),
                    })?;
                if !literal.is_empty() {
                    segments.push(Segment::Literal(std::mem::take(&mut literal)));
                }
                segments.push(Segment::Placeholder(name));
                // Skip the name and the closing brace.
                while rest.next_if(|&(i, _)| i <= end).is_some() {}
            }
            other => literal.push(other),
        }
    }
    if !literal.is_empty() {
        segments.push(Segment::Literal(literal));
    }
    Ok(segments)
}

crate::validation::validated_string!(
    /// A variable name: ASCII letters, digits and `_`, not starting with a digit, at most 64
    /// characters.
    VariableName,
    |value| {
        let mut chars = value.chars();
        let valid_start = chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
        if !valid_start
            || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
            || value.len() > MAX_VARIABLE_NAME_CHARS
        {
            return Err(ValidationError::new(
                "name",
                format!(
                    "'{value}' is not a variable name (letters, digits, '_', not starting with a digit, at most {MAX_VARIABLE_NAME_CHARS})"
                ),
            ));
        }
        Ok(())
    }
);

/// The type of a template variable, and so which JSON values it accepts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VariableKind {
    /// Any JSON string.
    String,
    /// A JSON integer (no fraction, within `i64`).
    Integer,
    /// `true` or `false`.
    Boolean,
    /// One of the listed strings.
    Enum { values: Vec<String> },
}

impl VariableKind {
    fn accepts(&self, value: &Value) -> bool {
        match (self, value) {
            (Self::String, Value::String(_)) | (Self::Boolean, Value::Bool(_)) => true,
            (Self::Integer, Value::Number(n)) => n.is_i64(),
            (Self::Enum { values }, Value::String(s)) => values.contains(s),
            _ => false,
        }
    }

    fn describe(&self) -> String {
        match self {
            Self::String => "a string".to_owned(),
            Self::Integer => "an integer".to_owned(),
            Self::Boolean => "a boolean".to_owned(),
            Self::Enum { values } => format!("one of {}", values.join(", ")),
        }
    }
}

/// The declaration of one template variable.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawVariableSpec", into = "RawVariableSpec")]
pub struct VariableSpec {
    name: VariableName,
    kind: VariableKind,
    required: bool,
    default: Option<Value>,
    description: Option<String>,
}

impl VariableSpec {
    /// Declares a variable. A variable with a default is never required.
    ///
    /// # Errors
    /// A [`ValidationError`] for an enum without values, a default of the wrong type, a required
    /// variable with a default, or an overlong description.
    pub fn new(
        name: VariableName,
        kind: VariableKind,
        required: bool,
        default: Option<Value>,
        description: Option<String>,
    ) -> Result<Self, ValidationError> {
        let field = |f: &str| format!("{name}.{f}");
        if let VariableKind::Enum { values } = &kind
            && values.is_empty()
        {
            return Err(ValidationError::new(
                field("values"),
                "an enum needs at least one value",
            ));
        }
        if let Some(default) = &default {
            if required {
                return Err(ValidationError::new(
                    field("default"),
                    "a required variable cannot have a default",
                ));
            }
            if !kind.accepts(default) {
                return Err(ValidationError::new(
                    field("default"),
                    format!("must be {}", kind.describe()),
                ));
            }
        }
        if let Some(description) = &description {
            check_optional_text(
                &field("description"),
                description,
                MAX_VARIABLE_DESCRIPTION_CHARS,
            )?;
        }
        Ok(Self {
            name,
            kind,
            required,
            default,
            description,
        })
    }

    /// A required string variable without a description: the common case.
    #[must_use]
    pub fn required_string(name: VariableName) -> Self {
        Self {
            name,
            kind: VariableKind::String,
            required: true,
            default: None,
            description: None,
        }
    }

    #[must_use]
    pub fn name(&self) -> &VariableName {
        &self.name
    }

    #[must_use]
    pub fn kind(&self) -> &VariableKind {
        &self.kind
    }

    #[must_use]
    pub fn required(&self) -> bool {
        self.required
    }

    #[must_use]
    pub fn default(&self) -> Option<&Value> {
        self.default.as_ref()
    }

    #[must_use]
    pub fn description(&self) -> Option<&str> {
        self.description.as_deref()
    }
}

/// The wire form of [`VariableSpec`]: `{"name", "type", "values"?, "required"?, "default"?,
/// "description"?}`. `required` defaults to "no default given".
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawVariableSpec {
    name: String,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    values: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    required: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    default: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    description: Option<String>,
}

impl TryFrom<RawVariableSpec> for VariableSpec {
    type Error = ValidationError;

    fn try_from(raw: RawVariableSpec) -> Result<Self, Self::Error> {
        let name = VariableName::new(raw.name)?;
        let kind = match (raw.kind.as_str(), raw.values) {
            ("string", None) => VariableKind::String,
            ("integer", None) => VariableKind::Integer,
            ("boolean", None) => VariableKind::Boolean,
            ("enum", Some(values)) => VariableKind::Enum { values },
            ("enum", None) => {
                return Err(ValidationError::new(
                    format!("{name}.values"),
                    "an enum needs values",
                ));
            }
            ("string" | "integer" | "boolean", Some(_)) => {
                return Err(ValidationError::new(
                    format!("{name}.values"),
                    "only an enum has values",
                ));
            }
            (other, _) => {
                return Err(ValidationError::new(
                    format!("{name}.type"),
                    format!("'{other}' is not one of string, integer, boolean, enum"),
                ));
            }
        };
        let required = raw.required.unwrap_or(raw.default.is_none());
        Self::new(name, kind, required, raw.default, raw.description)
    }
}

impl From<VariableSpec> for RawVariableSpec {
    fn from(spec: VariableSpec) -> Self {
        let (kind, values) = match spec.kind {
            VariableKind::String => ("string", None),
            VariableKind::Integer => ("integer", None),
            VariableKind::Boolean => ("boolean", None),
            VariableKind::Enum { values } => ("enum", Some(values)),
        };
        Self {
            name: spec.name.into(),
            kind: kind.to_owned(),
            values,
            required: Some(spec.required),
            default: spec.default,
            description: spec.description,
        }
    }
}

/// Why a set of values cannot render a template. Every offending variable is listed at once,
/// so a caller fixes its request in one round.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VariableErrors {
    /// Required variables with no value.
    pub missing: Vec<String>,
    /// Values for variables the task does not declare.
    pub unknown: Vec<String>,
    /// Values of the wrong type: (name, what was expected).
    pub wrong_type: Vec<(String, String)>,
}

impl VariableErrors {
    fn is_empty(&self) -> bool {
        self.missing.is_empty() && self.unknown.is_empty() && self.wrong_type.is_empty()
    }

    /// Every offending variable name, sorted.
    #[must_use]
    pub fn names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self
            .missing
            .iter()
            .chain(&self.unknown)
            .chain(self.wrong_type.iter().map(|(name, _)| name))
            .map(String::as_str)
            .collect();
        names.sort_unstable();
        names
    }
}

impl fmt::Display for VariableErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if !self.missing.is_empty() {
            parts.push(format!("missing: {}", self.missing.join(", ")));
        }
        if !self.unknown.is_empty() {
            parts.push(format!("unknown: {}", self.unknown.join(", ")));
        }
        if !self.wrong_type.is_empty() {
            let wrong: Vec<String> = self
                .wrong_type
                .iter()
                .map(|(name, expected)| format!("{name} (expected {expected})"))
                .collect();
            parts.push(format!("wrong type: {}", wrong.join(", ")));
        }
        f.write_str(&parts.join("; "))
    }
}

/// Why rendering failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RenderError {
    #[error("invalid variables: {0}")]
    InvalidVariables(VariableErrors),
    #[error("rendered prompt is {size} bytes; the limit is {limit}")]
    TooLarge { size: usize, limit: usize },
}

/// A template together with the declarations of the variables it uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskTemplate {
    template: PromptTemplate,
    variables: Vec<VariableSpec>,
}

impl TaskTemplate {
    /// Pairs a template with its variable declarations.
    ///
    /// # Errors
    /// [`TemplateError::UndeclaredVariables`] listing every placeholder without a declaration,
    /// [`TemplateError::DuplicateVariable`], or [`TemplateError::TooManyVariables`].
    pub fn new(
        template: PromptTemplate,
        variables: Vec<VariableSpec>,
    ) -> Result<Self, TemplateError> {
        if variables.len() > MAX_VARIABLES {
            return Err(TemplateError::TooManyVariables {
                limit: MAX_VARIABLES,
            });
        }
        let mut declared = BTreeSet::new();
        for spec in &variables {
            if !declared.insert(spec.name.as_str()) {
                return Err(TemplateError::DuplicateVariable(spec.name.to_string()));
            }
        }
        let undeclared: Vec<String> = template
            .placeholders()
            .into_iter()
            .filter(|name| !declared.contains(name))
            .map(str::to_owned)
            .collect();
        if !undeclared.is_empty() {
            return Err(TemplateError::UndeclaredVariables(undeclared));
        }
        Ok(Self {
            template,
            variables,
        })
    }

    #[must_use]
    pub fn template(&self) -> &PromptTemplate {
        &self.template
    }

    #[must_use]
    pub fn variables(&self) -> &[VariableSpec] {
        &self.variables
    }

    /// Checks `values` against the declarations and renders the prompt.
    ///
    /// An optional variable without a value or default renders as the empty string.
    ///
    /// # Errors
    /// [`RenderError::InvalidVariables`] listing every missing, unknown and wrongly typed
    /// variable; [`RenderError::TooLarge`] past [`MAX_RENDERED_BYTES`].
    pub fn render(&self, values: &BTreeMap<String, Value>) -> Result<String, RenderError> {
        let resolved = self.resolve(values)?;
        let mut out = String::with_capacity(self.template.source.len());
        for segment in &self.template.segments {
            let piece = match segment {
                Segment::Literal(text) => text.as_str(),
                Segment::Placeholder(name) => {
                    resolved.get(name.as_str()).map_or("", String::as_str)
                }
            };
            if out.len() + piece.len() > MAX_RENDERED_BYTES {
                return Err(RenderError::TooLarge {
                    size: out.len() + piece.len(),
                    limit: MAX_RENDERED_BYTES,
                });
            }
            out.push_str(piece);
        }
        Ok(out)
    }

    /// Validates every value and returns the text each variable renders as.
    fn resolve(
        &self,
        values: &BTreeMap<String, Value>,
    ) -> Result<BTreeMap<&str, String>, RenderError> {
        let mut errors = VariableErrors::default();
        let mut resolved = BTreeMap::new();
        for spec in &self.variables {
            let name = spec.name.as_str();
            match values.get(name).or(spec.default.as_ref()) {
                Some(value) if spec.kind.accepts(value) => {
                    resolved.insert(name, display_value(value));
                }
                Some(_) => errors
                    .wrong_type
                    .push((name.to_owned(), spec.kind.describe())),
                None if spec.required => errors.missing.push(name.to_owned()),
                None => {}
            }
        }
        errors.unknown = values
            .keys()
            .filter(|name| {
                !self
                    .variables
                    .iter()
                    .any(|spec| spec.name.as_str() == *name)
            })
            .cloned()
            .collect();
        if errors.is_empty() {
            Ok(resolved)
        } else {
            Err(RenderError::InvalidVariables(errors))
        }
    }
}

/// How an accepted value appears in the prompt: strings as they are, numbers and booleans in
/// their JSON spelling.
fn display_value(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn name(n: &str) -> VariableName {
        VariableName::new(n).unwrap()
    }

    fn values(v: Value) -> BTreeMap<String, Value> {
        serde_json::from_value(v).unwrap()
    }

    fn task_template(source: &str, specs: Vec<VariableSpec>) -> TaskTemplate {
        TaskTemplate::new(PromptTemplate::parse(source).unwrap(), specs).unwrap()
    }

    #[test]
    fn renders_the_seed_scenario() {
        let t = task_template(
            "Check the health of the {cluster_name} cluster.",
            vec![VariableSpec::required_string(name("cluster_name"))],
        );
        let prompt = t
            .render(&values(json!({"cluster_name": "production"})))
            .unwrap();
        assert_eq!(prompt, "Check the health of the production cluster.");
    }

    #[test]
    fn double_braces_are_literal() {
        let t = task_template(
            "{{\"cluster\": \"{c}\"}} and }} {{",
            vec![VariableSpec::required_string(name("c"))],
        );
        assert_eq!(
            t.render(&values(json!({"c": "prod"}))).unwrap(),
            "{\"cluster\": \"prod\"} and } {"
        );
    }

    #[test]
    fn a_value_containing_braces_is_not_reinterpreted() {
        let t = task_template("[{c}]", vec![VariableSpec::required_string(name("c"))]);
        assert_eq!(
            t.render(&values(json!({"c": "{other}"}))).unwrap(),
            "[{other}]"
        );
    }

    #[test]
    fn placeholder_used_twice_and_adjacent() {
        let t = task_template(
            "{a}{b}{a}",
            vec![
                VariableSpec::required_string(name("a")),
                VariableSpec::required_string(name("b")),
            ],
        );
        assert_eq!(
            t.render(&values(json!({"a": "1", "b": "2"}))).unwrap(),
            "121"
        );
    }

    #[test]
    fn syntax_errors_name_the_offset() {
        assert_eq!(
            PromptTemplate::parse("abc {name").unwrap_err(),
            TemplateError::UnclosedBrace { offset: 4 }
        );
        assert_eq!(
            PromptTemplate::parse("a } b").unwrap_err(),
            TemplateError::UnmatchedClosingBrace { offset: 2 }
        );
        assert_eq!(
            PromptTemplate::parse("{a {b}").unwrap_err(),
            TemplateError::UnclosedBrace { offset: 0 }
        );
        assert!(matches!(
            PromptTemplate::parse("x {1abc} y").unwrap_err(),
            TemplateError::InvalidPlaceholder { offset: 2, ref text } if text == "1abc"
        ));
        assert!(matches!(
            PromptTemplate::parse("{}").unwrap_err(),
            TemplateError::InvalidPlaceholder { offset: 0, .. }
        ));
        assert!(matches!(
            PromptTemplate::parse("{a b}").unwrap_err(),
            TemplateError::InvalidPlaceholder { .. }
        ));
    }

    #[test]
    fn multibyte_text_around_placeholders() {
        let t = task_template(
            "ünïcødé {v} ✓",
            vec![VariableSpec::required_string(name("v"))],
        );
        assert_eq!(
            t.render(&values(json!({"v": "日本"}))).unwrap(),
            "ünïcødé 日本 ✓"
        );
    }

    #[test]
    fn undeclared_placeholders_are_all_listed() {
        let err = TaskTemplate::new(
            PromptTemplate::parse("{a} {b} {c} {b}").unwrap(),
            vec![VariableSpec::required_string(name("a"))],
        )
        .unwrap_err();
        assert_eq!(
            err,
            TemplateError::UndeclaredVariables(vec!["b".to_owned(), "c".to_owned()])
        );
    }

    #[test]
    fn duplicate_declaration_is_rejected() {
        let err = TaskTemplate::new(
            PromptTemplate::parse("x").unwrap(),
            vec![
                VariableSpec::required_string(name("a")),
                VariableSpec::required_string(name("a")),
            ],
        )
        .unwrap_err();
        assert_eq!(err, TemplateError::DuplicateVariable("a".to_owned()));
    }

    #[test]
    fn one_error_lists_missing_unknown_and_wrong_type() {
        let t = task_template(
            "{s} {i} {b} {e}",
            vec![
                VariableSpec::required_string(name("s")),
                VariableSpec::new(name("i"), VariableKind::Integer, true, None, None).unwrap(),
                VariableSpec::new(name("b"), VariableKind::Boolean, true, None, None).unwrap(),
                VariableSpec::new(
                    name("e"),
                    VariableKind::Enum {
                        values: vec!["x".into(), "y".into()],
                    },
                    true,
                    None,
                    None,
                )
                .unwrap(),
            ],
        );
        let err = t
            .render(&values(
                json!({"i": "5", "b": 1, "e": "z", "extra": 1, "other": "x"}),
            ))
            .unwrap_err();
        let RenderError::InvalidVariables(errors) = err else {
            panic!("expected invalid variables, got {err:?}");
        };
        assert_eq!(errors.missing, vec!["s"]);
        assert_eq!(errors.unknown, vec!["extra", "other"]);
        let wrong: Vec<&str> = errors.wrong_type.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(wrong, vec!["i", "b", "e"]);
        assert_eq!(errors.names(), vec!["b", "e", "extra", "i", "other", "s"]);
        let message = RenderError::InvalidVariables(errors).to_string();
        for n in [
            "s",
            "extra",
            "other",
            "i (expected an integer)",
            "e (expected one of x, y)",
        ] {
            assert!(message.contains(n), "{message} should mention {n}");
        }
    }

    #[test]
    fn typed_values_render_in_json_spelling() {
        let t = task_template(
            "{n} {flag} {env}",
            vec![
                VariableSpec::new(name("n"), VariableKind::Integer, true, None, None).unwrap(),
                VariableSpec::new(name("flag"), VariableKind::Boolean, true, None, None).unwrap(),
                VariableSpec::new(
                    name("env"),
                    VariableKind::Enum {
                        values: vec!["prod".into()],
                    },
                    true,
                    None,
                    None,
                )
                .unwrap(),
            ],
        );
        assert_eq!(
            t.render(&values(json!({"n": -42, "flag": false, "env": "prod"})))
                .unwrap(),
            "-42 false prod"
        );
        // A float is not an integer.
        assert!(
            t.render(&values(json!({"n": 1.5, "flag": true, "env": "prod"})))
                .is_err()
        );
    }

    #[test]
    fn defaults_and_optional_variables() {
        let t = task_template(
            "[{region}] [{note}]",
            vec![
                VariableSpec::new(
                    name("region"),
                    VariableKind::String,
                    false,
                    Some(json!("eu")),
                    None,
                )
                .unwrap(),
                VariableSpec::new(name("note"), VariableKind::String, false, None, None).unwrap(),
            ],
        );
        assert_eq!(t.render(&BTreeMap::new()).unwrap(), "[eu] []");
        assert_eq!(
            t.render(&values(json!({"region": "us", "note": "n"})))
                .unwrap(),
            "[us] [n]"
        );
    }

    #[test]
    fn declaration_rules() {
        assert!(
            VariableSpec::new(
                name("e"),
                VariableKind::Enum { values: vec![] },
                true,
                None,
                None
            )
            .is_err()
        );
        assert!(
            VariableSpec::new(
                name("i"),
                VariableKind::Integer,
                false,
                Some(json!("x")),
                None
            )
            .is_err()
        );
        assert!(
            VariableSpec::new(
                name("s"),
                VariableKind::String,
                true,
                Some(json!("x")),
                None
            )
            .is_err()
        );
        assert!(VariableName::new("9lives").is_err());
        assert!(VariableName::new("a".repeat(65)).is_err());
        assert!(VariableName::new("_ok9").is_ok());
    }

    #[test]
    fn template_size_limit() {
        let at_limit = "a".repeat(MAX_TEMPLATE_BYTES);
        assert!(PromptTemplate::parse(at_limit.clone()).is_ok());
        assert_eq!(
            PromptTemplate::parse(at_limit + "a").unwrap_err(),
            TemplateError::TooLarge {
                size: MAX_TEMPLATE_BYTES + 1,
                limit: MAX_TEMPLATE_BYTES
            }
        );
    }

    #[test]
    fn rendered_size_limit() {
        let t = task_template("{v}{v}", vec![VariableSpec::required_string(name("v"))]);
        let half = "x".repeat(MAX_RENDERED_BYTES / 2);
        assert_eq!(
            t.render(&values(json!({"v": half}))).unwrap().len(),
            MAX_RENDERED_BYTES
        );
        let over = "x".repeat(MAX_RENDERED_BYTES / 2 + 1);
        assert!(matches!(
            t.render(&values(json!({"v": over}))).unwrap_err(),
            RenderError::TooLarge {
                limit: MAX_RENDERED_BYTES,
                ..
            }
        ));
    }

    #[test]
    fn variable_specs_round_trip_through_json() {
        let specs: Vec<VariableSpec> = serde_json::from_value(json!([
            {"name": "cluster_name", "type": "string", "description": "which cluster"},
            {"name": "env", "type": "enum", "values": ["prod", "staging"], "default": "prod"},
            {"name": "n", "type": "integer", "required": false}
        ]))
        .unwrap();
        assert!(specs[0].required());
        assert!(!specs[1].required());
        assert!(!specs[2].required());
        let again: Vec<VariableSpec> =
            serde_json::from_value(serde_json::to_value(&specs).unwrap()).unwrap();
        assert_eq!(again, specs);
    }

    #[test]
    fn variable_spec_json_rejects_unknown_fields_and_types() {
        assert!(
            serde_json::from_value::<VariableSpec>(json!({"name": "a", "type": "float"})).is_err()
        );
        assert!(
            serde_json::from_value::<VariableSpec>(json!({"name": "a", "type": "enum"})).is_err()
        );
        assert!(
            serde_json::from_value::<VariableSpec>(
                json!({"name": "a", "type": "string", "values": ["x"]})
            )
            .is_err()
        );
        assert!(
            serde_json::from_value::<VariableSpec>(
                json!({"name": "a", "type": "string", "requird": true})
            )
            .is_err()
        );
    }
}
