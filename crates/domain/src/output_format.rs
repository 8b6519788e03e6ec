//! Structured output: a JSON Schema the agent's final result must match.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::validation::ValidationError;

const FIELD: &str = "sdk_options.output_format";

/// How the agent must give its result: `{"type": "json_schema", "schema": {…}}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum OutputFormat {
    /// A JSON value matching `schema` (the agent's `--json-schema`).
    JsonSchema {
        /// The schema.
        schema: OutputSchema,
    },
}

impl OutputFormat {
    /// The schema the result must match.
    #[must_use]
    pub fn schema(&self) -> &OutputSchema {
        match self {
            Self::JsonSchema { schema } => schema,
        }
    }
}

/// A JSON Schema (an object, at most 64 KiB, that compiles; `$ref`s only within itself).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "Value", into = "Value")]
pub struct OutputSchema(Value);

impl OutputSchema {
    /// The largest schema, as JSON text.
    pub const MAX_BYTES: usize = 64 * 1024;

    /// Checks and wraps `schema`.
    ///
    /// # Errors
    /// A [`ValidationError`] on `sdk_options.output_format` saying what is wrong.
    pub fn new(schema: Value) -> Result<Self, ValidationError> {
        if !schema.is_object() {
            return Err(ValidationError::new(
                FIELD,
                "the schema must be a JSON object",
            ));
        }
        if schema.to_string().len() > Self::MAX_BYTES {
            return Err(ValidationError::new(
                FIELD,
                format!("the schema must be at most {} bytes", Self::MAX_BYTES),
            ));
        }
        jsonschema::validator_for(&schema).map_err(|err| {
            ValidationError::new(FIELD, format!("not a usable JSON Schema: {err}"))
        })?;
        Ok(Self(schema))
    }

    /// The schema as JSON.
    #[must_use]
    pub fn as_value(&self) -> &Value {
        &self.0
    }

    /// Whether `instance` matches.
    ///
    /// # Errors
    /// Every mismatch, `at <path>: <what>`, joined with `; ` (at most 5).
    pub fn check(&self, instance: &Value) -> Result<(), String> {
        // `new` compiled it; a failure here would be a stored schema from elsewhere.
        let validator = jsonschema::validator_for(&self.0).map_err(|err| err.to_string())?;
        let errors: Vec<String> = validator
            .iter_errors(instance)
            .take(5)
            .map(|err| {
                let path = err.instance_path().to_string();
                let path = if path.is_empty() {
                    "/".to_owned()
                } else {
                    path
                };
                format!("at {path}: {err}")
            })
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors.join("; "))
        }
    }
}

impl TryFrom<Value> for OutputSchema {
    type Error = ValidationError;

    fn try_from(value: Value) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl From<OutputSchema> for Value {
    fn from(schema: OutputSchema) -> Self {
        schema.0
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn schema() -> OutputSchema {
        OutputSchema::new(json!({
            "type": "object",
            "properties": {"healthy": {"type": "boolean"}, "pods": {"type": "integer"}},
            "required": ["healthy", "pods"]
        }))
        .unwrap()
    }

    #[test]
    fn a_matching_result_passes_and_a_wrong_one_says_where() {
        assert_eq!(schema().check(&json!({"healthy": true, "pods": 2})), Ok(()));
        let err = schema()
            .check(&json!({"healthy": "yes", "pods": 2}))
            .unwrap_err();
        assert!(err.contains("at /healthy"), "{err}");
        let err = schema().check(&json!({"healthy": true})).unwrap_err();
        assert!(err.contains("pods"), "{err}");
    }

    #[test]
    fn unusable_schemas_are_refused_with_the_reason() {
        for (bad, says) in [
            (json!("object"), "JSON object"),
            (json!({"type": "no-such-type"}), "not a usable JSON Schema"),
            (
                json!({"$ref": "https://example.com/schema.json"}),
                "not a usable JSON Schema",
            ),
            (
                json!({"$ref": "file:///etc/passwd"}),
                "not a usable JSON Schema",
            ),
        ] {
            let err = OutputSchema::new(bad.clone()).unwrap_err();
            assert_eq!(err.field, FIELD);
            assert!(err.to_string().contains(says), "{bad}: {err}");
        }
        let big = json!({"description": "x".repeat(OutputSchema::MAX_BYTES)});
        assert!(OutputSchema::new(big).is_err());
    }

    #[test]
    fn a_bad_schema_in_the_options_names_its_field() {
        let err = crate::AgentOptions::from_json(json!({
            "output_format": {"type": "json_schema", "schema": {"type": "no-such-type"}}
        }))
        .unwrap_err();
        assert_eq!(err.field, FIELD, "{err}");
        assert!(err.reason.contains("not a usable JSON Schema"), "{err}");
        let err = crate::AgentOptions::from_json(json!({"allowed_tool": []})).unwrap_err();
        assert_eq!(err.field, "sdk_options", "{err}");
    }

    #[test]
    fn the_option_reads_and_writes_its_documented_form() {
        let value = json!({"type": "json_schema", "schema": {"type": "object"}});
        let format: OutputFormat = serde_json::from_value(value.clone()).unwrap();
        assert_eq!(format.schema().as_value(), &json!({"type": "object"}));
        assert_eq!(serde_json::to_value(&format).unwrap(), value);
        assert!(serde_json::from_value::<OutputFormat>(json!({"type": "text"})).is_err());
    }
}
