//! What both backends do alike with a station's metadata.

/// RFC 7396 JSON merge patch of an object: `null` removes a key, objects
/// merge, anything else replaces.
pub(crate) fn merge_patch(
    target: &mut serde_json::Map<String, serde_json::Value>,
    patch: &serde_json::Map<String, serde_json::Value>,
) {
    for (key, value) in patch {
        match value {
            serde_json::Value::Null => {
                target.remove(key);
            }
            serde_json::Value::Object(inner) => {
                let entry = target.entry(key.clone()).or_insert_with(|| serde_json::json!({}));
                if !entry.is_object() {
                    *entry = serde_json::json!({});
                }
                if let serde_json::Value::Object(map) = entry {
                    merge_patch(map, inner);
                }
            }
            other => {
                target.insert(key.clone(), other.clone());
            }
        }
    }
}
