//! What every page shares: the tenant, the navigation, the CSRF token of its
//! forms and the URLs of the static files.

use std::sync::LazyLock;

use crate::assets;
use crate::session::Ui;

/// Content-hashed URLs of the static files.
pub struct Assets {
    pub css: String,
    pub uplot_css: String,
    pub app_js: String,
    pub chart_js: String,
    pub overview_js: String,
    pub station_js: String,
    pub htmx: String,
    pub uplot: String,
}

static ASSETS: LazyLock<Assets> = LazyLock::new(|| Assets {
    css: assets::url("app.css"),
    uplot_css: assets::url("uPlot.min.css"),
    app_js: assets::url("app.js"),
    chart_js: assets::url("chart.js"),
    overview_js: assets::url("overview.js"),
    station_js: assets::url("station.js"),
    htmx: assets::url("htmx.min.js"),
    uplot: assets::url("uPlot.iife.min.js"),
});

/// The sections of the navigation.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    Overview,
    Sessions,
    Stations,
    Webhooks,
    Models,
    Batches,
    Settings,
}

/// One link of the navigation.
pub struct NavLink {
    pub href: &'static str,
    pub label: &'static str,
    pub current: bool,
}

/// The frame around a page.
pub struct Chrome {
    /// None on the login page.
    pub tenant: Option<String>,
    pub scope: &'static str,
    pub csrf: String,
    pub nav: Vec<NavLink>,
    pub assets: &'static Assets,
}

impl Chrome {
    pub fn new(ui: &Ui, section: Nav) -> Self {
        let links = [
            (Nav::Overview, "/ui/", "Overview"),
            (Nav::Sessions, "/ui/sessions", "Sessions"),
            (Nav::Stations, "/ui/stations", "Stations"),
            (Nav::Webhooks, "/ui/webhooks", "Webhooks"),
            (Nav::Models, "/ui/models", "Models"),
            (Nav::Batches, "/ui/batches", "Batches"),
            (Nav::Settings, "/ui/settings", "Settings"),
        ];
        Self {
            tenant: Some(ui.caller.tenant.name.clone()),
            scope: ui.caller.scope.as_str(),
            csrf: ui.csrf.clone(),
            nav: links
                .into_iter()
                .map(|(nav, href, label)| NavLink {
                    href,
                    label,
                    current: nav == section,
                })
                .collect(),
            assets: &ASSETS,
        }
    }

    /// The frame of the login page: no tenant, no navigation.
    pub fn anonymous(csrf: String) -> Self {
        Self {
            tenant: None,
            scope: "",
            csrf,
            nav: Vec::new(),
            assets: &ASSETS,
        }
    }
}
