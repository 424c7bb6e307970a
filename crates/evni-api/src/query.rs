//! Query-string parameters, validated with the same error shape as bodies.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate};
use evni_domain::{FieldError, ValidationErrors};
use evni_store::PageRequest;

pub const MAX_PAGE_SIZE: u32 = 100;
const DEFAULT_PAGE_SIZE: u32 = 20;

/// Raw query parameters. Unknown parameters are ignored.
pub struct Params {
    raw: HashMap<String, String>,
    pub errors: ValidationErrors,
}

impl Params {
    pub fn new(raw: HashMap<String, String>) -> Self {
        Self {
            raw,
            errors: ValidationErrors::default(),
        }
    }

    pub fn string(&self, name: &str) -> Option<String> {
        self.raw.get(name).filter(|v| !v.is_empty()).cloned()
    }

    fn parsed<T>(&mut self, name: &str, parse: impl FnOnce(&str) -> Result<T, String>) -> Option<T> {
        let raw = self.raw.get(name)?.clone();
        match parse(&raw) {
            Ok(v) => Some(v),
            Err(problem) => {
                self.errors.push(FieldError::new(name, problem));
                None
            }
        }
    }

    pub fn page(&mut self) -> PageRequest {
        self.page_with(DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
    }

    /// `page` and `page_size` with a given default and maximum page size.
    pub fn page_with(&mut self, default_size: u32, max_size: u32) -> PageRequest {
        let page = self.parsed("page", |v| match v.parse::<u32>() {
            Ok(n) if n >= 1 => Ok(n),
            _ => Err(format!("'{v}' is not a page number (1 or more)")),
        });
        let page_size = self.parsed("page_size", |v| match v.parse::<u32>() {
            Ok(n) if (1..=max_size).contains(&n) => Ok(n),
            _ => Err(format!("'{v}' is not a page size from 1 to {max_size}")),
        });
        PageRequest {
            page: page.unwrap_or(1),
            page_size: page_size.unwrap_or(default_size),
        }
    }

    pub fn boolean(&mut self, name: &str) -> Option<bool> {
        self.parsed(name, |v| match v.to_ascii_lowercase().as_str() {
            "true" | "1" => Ok(true),
            "false" | "0" => Ok(false),
            _ => Err(format!("'{v}' is not a boolean (true or false)")),
        })
    }

    pub fn fraction(&mut self, name: &str) -> Option<f64> {
        self.parsed(name, |v| match v.parse::<f64>() {
            Ok(x) if (0.0..=1.0).contains(&x) => Ok(x),
            _ => Err(format!("'{v}' is not a number from 0.0 to 1.0")),
        })
    }

    /// An ISO 8601 date or date-time. A bare date means the start of that
    /// UTC day, or with `end_of_day` the start of the next one.
    pub fn instant(&mut self, name: &str, end_of_day: bool) -> Option<i64> {
        self.parsed(name, |v| {
            if let Ok(t) = DateTime::parse_from_rfc3339(v) {
                return Ok(t.timestamp_micros() + i64::from(end_of_day));
            }
            let date = NaiveDate::parse_from_str(v, "%Y-%m-%d")
                .map_err(|_| format!("'{v}' is not an ISO 8601 date (2026-02-27) or date-time"))?;
            let date = if end_of_day {
                date.succ_opt().unwrap_or(date)
            } else {
                date
            };
            Ok(date
                .and_hms_opt(0, 0, 0)
                .expect("midnight exists")
                .and_utc()
                .timestamp_micros())
        })
    }
}
