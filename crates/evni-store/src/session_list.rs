//! What both backends share when listing sessions: the page's ids query
//! and the row fields read back from stored columns.

use crate::model::PageWindow;
use crate::station_days::DayContribution;

/// The ids of one page of sessions matching `filter_sql` (conditions on
/// `sessions s`), newest first or, for the older half, oldest first.
/// Only ids: skipping rows in the index is cheap, reading each skipped
/// session's columns was not.
pub(crate) fn page_ids_sql(filter_sql: &str, window: PageWindow) -> String {
    let direction = if window.ascending { "ASC" } else { "DESC" };
    format!(
        "SELECT s.id FROM sessions s WHERE {filter_sql}
         ORDER BY s.started_at {direction}, s.id {direction} LIMIT {} OFFSET {}",
        window.limit, window.offset
    )
}

/// The `categories` column (comma separated) as a list.
pub(crate) fn category_list(text: &str) -> Vec<String> {
    text.split(',')
        .filter(|c| !c.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Energy delivered, read from the stored day contribution (the same JSON
/// in both backends), so listing needs no extra column.
pub(crate) fn energy_kwh(day_contribution: Option<&str>) -> Option<f64> {
    serde_json::from_str::<DayContribution>(day_contribution?)
        .ok()
        .map(|day| day.energy_kwh)
}
