//! Reading the Prometheus text exposition format just far enough to pick series out of it:
//! a series line is `name{label="value",…} value [timestamp]`.

use std::collections::BTreeMap;

/// Which series to keep: a metric name (`http_requests_total`, or a prefix ending in `*`) and
/// labels that must all have the given values.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct SeriesFilter {
    pub metric: Option<String>,
    pub labels: BTreeMap<String, String>,
}

impl SeriesFilter {
    /// Reads `metric` and `labels` (`key=value,key=value`) as a tool receives them.
    ///
    /// # Errors
    /// A label pair without `=`.
    pub(crate) fn parse(metric: Option<String>, labels: Option<&str>) -> Result<Self, String> {
        let mut wanted = BTreeMap::new();
        for pair in labels.unwrap_or_default().split(',').map(str::trim) {
            if pair.is_empty() {
                continue;
            }
            let (key, value) = pair
                .split_once('=')
                .ok_or_else(|| format!("'{pair}' is not key=value"))?;
            wanted.insert(
                key.trim().to_owned(),
                value.trim().trim_matches('"').to_owned(),
            );
        }
        Ok(Self {
            metric,
            labels: wanted,
        })
    }

    fn keeps(&self, series: &Series<'_>) -> bool {
        let name_matches = match self.metric.as_deref() {
            None => true,
            Some(pattern) => match pattern.strip_suffix('*') {
                Some(prefix) => series.name.starts_with(prefix),
                None => series.name == pattern,
            },
        };
        name_matches
            && self
                .labels
                .iter()
                .all(|(key, value)| series.labels.get(key.as_str()) == Some(value))
    }
}

/// One sample line.
#[derive(Debug, PartialEq)]
struct Series<'a> {
    name: &'a str,
    labels: BTreeMap<&'a str, String>,
}

/// The series lines of `text` that `filter` keeps, as they were written, and how many lines
/// could not be read.
pub(crate) fn select<'a>(text: &'a str, filter: &SeriesFilter) -> (Vec<&'a str>, usize) {
    let mut kept = Vec::new();
    let mut unreadable = 0;
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match parse_series(line) {
            Some(series) if filter.keeps(&series) => kept.push(line),
            Some(_) => {}
            None => unreadable += 1,
        }
    }
    (kept, unreadable)
}

fn parse_series(line: &str) -> Option<Series<'_>> {
    let name_end = line.find(|c: char| c == '{' || c.is_whitespace())?;
    let name = &line[..name_end];
    let valid_name = name.chars().enumerate().all(|(i, c)| {
        c.is_ascii_alphabetic() || c == '_' || c == ':' || (i > 0 && c.is_ascii_digit())
    });
    if name.is_empty() || !valid_name {
        return None;
    }
    let rest = &line[name_end..];
    let (labels, value) = match rest.strip_prefix('{') {
        Some(inner) => parse_labels(inner)?,
        None => (BTreeMap::new(), rest),
    };
    // A sample needs a number (`1.5`, `+Inf`, `NaN`) after the name and labels.
    value.split_whitespace().next()?.parse::<f64>().ok()?;
    Some(Series { name, labels })
}

/// Parses `key="value",…}` and returns the labels and what follows the closing brace.
fn parse_labels(mut rest: &str) -> Option<(BTreeMap<&str, String>, &str)> {
    let mut labels = BTreeMap::new();
    loop {
        rest = rest.trim_start_matches([' ', ',']);
        if let Some(after) = rest.strip_prefix('}') {
            return Some((labels, after));
        }
        let eq = rest.find('=')?;
        let key = rest[..eq].trim();
        rest = rest[eq + 1..].trim_start().strip_prefix('"')?;
        let mut value = String::new();
        let mut chars = rest.char_indices();
        let end = loop {
            match chars.next()? {
                (i, '"') => break i,
                (_, '\\') => match chars.next()?.1 {
                    'n' => value.push('\n'),
                    other => value.push(other),
                },
                (_, c) => value.push(c),
            }
        };
        labels.insert(key, value);
        rest = &rest[end + 1..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = r#"# HELP http_requests_total Requests.
# TYPE http_requests_total counter
http_requests_total{method="GET",route="/health",status="200"} 12
http_requests_total{method="POST",route="/api/v1/tasks",status="201"} 3 1700000000000
http_request_duration_seconds_bucket{le="0.1",route="/a \"quoted\", b"} 4
process_open_fds 27
this line is not a sample
"#;

    fn filter(metric: Option<&str>, labels: Option<&str>) -> SeriesFilter {
        SeriesFilter::parse(metric.map(str::to_owned), labels).unwrap()
    }

    #[test]
    fn no_filter_keeps_every_sample_and_counts_the_unreadable() {
        let (kept, unreadable) = select(TEXT, &SeriesFilter::default());
        assert_eq!(kept.len(), 4);
        assert_eq!(unreadable, 1);
    }

    #[test]
    fn a_name_matches_exactly_and_a_star_by_prefix() {
        let (kept, _) = select(TEXT, &filter(Some("process_open_fds"), None));
        assert_eq!(kept, vec!["process_open_fds 27"]);
        let (kept, _) = select(TEXT, &filter(Some("http_request"), None));
        assert!(kept.is_empty(), "no metric is named just 'http_request'");
        let (kept, _) = select(TEXT, &filter(Some("http_request*"), None));
        assert_eq!(kept.len(), 3);
    }

    #[test]
    fn labels_must_all_match_even_with_escapes_and_commas_in_values() {
        let (kept, _) = select(
            TEXT,
            &filter(
                Some("http_requests_total"),
                Some("method=GET, status=\"200\""),
            ),
        );
        assert_eq!(kept.len(), 1);
        assert!(kept[0].contains("/health"));
        let series = parse_series(TEXT.lines().nth(4).unwrap()).unwrap();
        assert_eq!(series.labels["route"], r#"/a "quoted", b"#);
        assert_eq!(series.labels["le"], "0.1");
    }

    #[test]
    fn a_label_pair_without_equals_is_refused() {
        assert!(SeriesFilter::parse(None, Some("method")).is_err());
    }
}
