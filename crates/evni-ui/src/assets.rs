//! Static files, embedded in the binary and served under content-hashed
//! names (`/ui/static/app.3f2a9c1d.css`), so browsers may keep them for a
//! year and a new build is fetched at once.

use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

struct Asset {
    /// The name in the source tree, e.g. `app.css`.
    name: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
}

const ASSETS: &[Asset] = &[
    Asset {
        name: "app.css",
        content_type: "text/css; charset=utf-8",
        bytes: include_bytes!("../static/app.css"),
    },
    Asset {
        name: "app.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../static/app.js"),
    },
    Asset {
        name: "chart.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../static/chart.js"),
    },
    Asset {
        name: "overview.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../static/overview.js"),
    },
    Asset {
        name: "station.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../static/station.js"),
    },
    Asset {
        name: "htmx.min.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../static/vendor/htmx.min.js"),
    },
    Asset {
        name: "uPlot.iife.min.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../static/vendor/uPlot.iife.min.js"),
    },
    Asset {
        name: "uPlot.min.css",
        content_type: "text/css; charset=utf-8",
        bytes: include_bytes!("../static/vendor/uPlot.min.css"),
    },
];

/// Each asset's served name: its stem, 10 hex digits of its SHA-256, its
/// extension.
static HASHED: LazyLock<Vec<String>> = LazyLock::new(|| {
    ASSETS
        .iter()
        .map(|asset| {
            let digest = Sha256::digest(asset.bytes);
            let hex: String = digest.iter().take(5).map(|b| format!("{b:02x}")).collect();
            let (stem, ext) = asset.name.rsplit_once('.').expect("assets have an extension");
            format!("{stem}.{hex}.{ext}")
        })
        .collect()
});

/// The URL of the asset named `name` in the source tree.
pub fn url(name: &str) -> String {
    let index = ASSETS
        .iter()
        .position(|a| a.name == name)
        .unwrap_or_else(|| panic!("no asset {name}"));
    format!("/ui/static/{}", HASHED[index])
}

/// GET /ui/static/{name}
pub async fn serve(Path(name): Path<String>) -> Response {
    match HASHED.iter().position(|hashed| *hashed == name) {
        Some(index) => {
            let asset = &ASSETS[index];
            (
                [
                    (header::CONTENT_TYPE, asset.content_type),
                    (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
                ],
                asset.bytes,
            )
                .into_response()
        }
        None => (StatusCode::NOT_FOUND, "no such file").into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_asset_has_a_distinct_hashed_name() {
        let names: std::collections::HashSet<_> = HASHED.iter().collect();
        assert_eq!(names.len(), ASSETS.len());
        assert!(url("app.css").starts_with("/ui/static/app.") && url("app.css").ends_with(".css"));
    }
}
