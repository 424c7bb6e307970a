//! Small integer codes for the OCPP enumerations of a stored reading.
//!
//! A reading row holds codes instead of spellings ("Energy.Active.Import.Register"
//! is 29 bytes, its code one): about 26 bytes a row instead of 52. A
//! session's readings then fill half as many pages, and an append to a live
//! session, which lands in the middle of the table's B-tree, splits its
//! page half as often. Each split writes three or four pages to the WAL,
//! about as many as the rest of the append.
//!
//! The tables are append-only: a code, once stored, names the same value
//! forever. The domain enums may be reordered freely; a new variant needs
//! its code appended here (a test checks every variant has one).

use evni_domain::{Location, Measurand, Phase, ReadingContext, UnitOfMeasure};
use rusqlite::{params, Transaction};

use crate::StoreError;

/// A stored enumeration: its codes are the positions in `TABLE`.
pub(super) trait Coded: Copy + PartialEq + std::fmt::Debug + 'static {
    /// What the value is, for errors and the migration's code table.
    const KIND: &'static str;
    const TABLE: &'static [Self];
    fn spelling(self) -> &'static str;
}

/// The code of `value`.
pub(super) fn code<T: Coded>(value: T) -> Result<i64, StoreError> {
    T::TABLE
        .iter()
        .position(|v| *v == value)
        .map(|i| i as i64)
        .ok_or_else(|| StoreError::database(format!("{} {value:?} has no stored code", T::KIND)))
}

/// The value stored as `code`.
pub(super) fn decode<T: Coded>(code: i64) -> Result<T, StoreError> {
    usize::try_from(code)
        .ok()
        .and_then(|i| T::TABLE.get(i))
        .copied()
        .ok_or_else(|| StoreError::database(format!("stored {} code {code} is not recognised", T::KIND)))
}

/// A reading without a phase is stored as 0, a phase as its code plus one.
pub(super) fn phase_code(phase: Option<Phase>) -> Result<i64, StoreError> {
    phase.map_or(Ok(0), |p| Ok(code(p)? + 1))
}

pub(super) fn decode_phase(code: i64) -> Result<Option<Phase>, StoreError> {
    match code {
        0 => Ok(None),
        c => decode(c - 1).map(Some),
    }
}

macro_rules! coded {
    ($ty:ident, $kind:literal, [$($variant:ident),+ $(,)?]) => {
        impl Coded for $ty {
            const KIND: &'static str = $kind;
            const TABLE: &'static [Self] = &[$($ty::$variant),+];
            fn spelling(self) -> &'static str {
                self.as_str()
            }
        }
    };
}

// The most frequent values first: SQLite stores the integers 0 and 1 in
// no bytes at all.
coded!(
    Measurand,
    "measurand",
    [
        EnergyActiveImportRegister,
        PowerActiveImport,
        SoC,
        CurrentImport,
        Voltage,
        CurrentExport,
        CurrentOffered,
        EnergyActiveExportRegister,
        EnergyReactiveExportRegister,
        EnergyReactiveImportRegister,
        EnergyActiveExportInterval,
        EnergyActiveImportInterval,
        EnergyActiveNet,
        EnergyReactiveExportInterval,
        EnergyReactiveImportInterval,
        EnergyReactiveNet,
        EnergyApparentNet,
        EnergyApparentImport,
        EnergyApparentExport,
        Frequency,
        PowerActiveExport,
        PowerFactor,
        PowerOffered,
        PowerReactiveExport,
        PowerReactiveImport,
        Rpm,
        Temperature,
    ]
);
coded!(Location, "location", [Outlet, Inlet, Body, Cable, Ev]);
coded!(Phase, "phase", [L1, L2, L3, N, L1N, L2N, L3N, L1L2, L2L3, L3L1]);
coded!(
    UnitOfMeasure,
    "unit",
    [Wh, KWh, W, KW, A, V, Percent, Celsius, Varh, Kvarh, VA, KVA, Var, Kvar, Fahrenheit, K, Hz, Rpm, S,]
);
coded!(
    ReadingContext,
    "context",
    [
        SamplePeriodic,
        SampleClock,
        TransactionBegin,
        TransactionEnd,
        Trigger,
        InterruptionBegin,
        InterruptionEnd,
        Other,
    ]
);

/// Migration 7: rewrites the readings table with codes instead of
/// spellings. Fails, changing nothing, if a stored spelling has no code.
pub(super) fn migrate(tx: &Transaction<'_>) -> Result<(), StoreError> {
    tx.execute_batch(
        "CREATE TEMP TABLE reading_codes (
            kind TEXT NOT NULL, spelling TEXT NOT NULL, code INTEGER NOT NULL,
            PRIMARY KEY (kind, spelling))",
    )?;
    {
        let mut insert =
            tx.prepare("INSERT INTO temp.reading_codes (kind, spelling, code) VALUES (?1, ?2, ?3)")?;
        let mut add = |kind: &str, spelling: &str, code: i64| insert.execute(params![kind, spelling, code]);
        add(Phase::KIND, "", 0)?;
        for &p in Phase::TABLE {
            add(Phase::KIND, p.spelling(), phase_code(Some(p))?)?;
        }
        add_table::<Measurand>(&mut add)?;
        add_table::<Location>(&mut add)?;
        add_table::<UnitOfMeasure>(&mut add)?;
        add_table::<ReadingContext>(&mut add)?;
    }
    let unknown: i64 = tx.query_row(
        "SELECT COUNT(*) FROM readings r WHERE
            NOT EXISTS (SELECT 1 FROM temp.reading_codes WHERE kind = 'measurand' AND spelling = r.measurand)
         OR NOT EXISTS (SELECT 1 FROM temp.reading_codes WHERE kind = 'phase' AND spelling = r.phase)
         OR NOT EXISTS (SELECT 1 FROM temp.reading_codes WHERE kind = 'location' AND spelling = r.location)
         OR (r.unit IS NOT NULL
             AND NOT EXISTS (SELECT 1 FROM temp.reading_codes WHERE kind = 'unit' AND spelling = r.unit))
         OR (r.context IS NOT NULL
             AND NOT EXISTS (SELECT 1 FROM temp.reading_codes WHERE kind = 'context' AND spelling = r.context))",
        [],
        |r| r.get(0),
    )?;
    if unknown > 0 {
        return Err(StoreError::database(format!(
            "stored readings with a measurand, phase, location, unit or context this version cannot code: \
             {unknown}; the database was left as it was"
        )));
    }
    tx.execute_batch(include_str!("migrations/0007_reading_codes.sql"))?;
    Ok(())
}

fn add_table<T: Coded>(
    add: &mut impl FnMut(&str, &str, i64) -> rusqlite::Result<usize>,
) -> Result<(), StoreError> {
    for &value in T::TABLE {
        add(T::KIND, value.spelling(), code(value)?)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every value of the domain enum has exactly one code, and decodes back.
    fn complete<T: Coded>(all: &[T]) {
        assert_eq!(T::TABLE.len(), all.len(), "{}: a value without a code", T::KIND);
        for &value in all {
            assert_eq!(T::TABLE.iter().filter(|v| **v == value).count(), 1, "{value:?}");
            assert_eq!(decode::<T>(code(value).unwrap()).unwrap(), value);
        }
    }

    #[test]
    fn every_value_has_one_code() {
        complete(Measurand::ALL);
        complete(Location::ALL);
        complete(Phase::ALL);
        complete(UnitOfMeasure::ALL);
        complete(ReadingContext::ALL);
        for phase in Phase::ALL.iter().copied().map(Some).chain([None]) {
            assert_eq!(decode_phase(phase_code(phase).unwrap()).unwrap(), phase);
        }
    }

    fn spellings<T: Coded>() -> Vec<&'static str> {
        T::TABLE.iter().map(|v| v.spelling()).collect()
    }

    #[test]
    fn codes_never_change() {
        // Stored data depends on these: append, never reorder.
        assert_eq!(
            spellings::<Measurand>().join(" "),
            "Energy.Active.Import.Register Power.Active.Import SoC Current.Import Voltage Current.Export \
             Current.Offered Energy.Active.Export.Register Energy.Reactive.Export.Register \
             Energy.Reactive.Import.Register Energy.Active.Export.Interval Energy.Active.Import.Interval \
             Energy.Active.Net Energy.Reactive.Export.Interval Energy.Reactive.Import.Interval \
             Energy.Reactive.Net Energy.Apparent.Net Energy.Apparent.Import Energy.Apparent.Export \
             Frequency Power.Active.Export Power.Factor Power.Offered Power.Reactive.Export \
             Power.Reactive.Import RPM Temperature"
        );
        assert_eq!(spellings::<Location>().join(" "), "Outlet Inlet Body Cable EV");
        assert_eq!(
            spellings::<Phase>().join(" "),
            "L1 L2 L3 N L1-N L2-N L3-N L1-L2 L2-L3 L3-L1"
        );
        assert_eq!(
            spellings::<UnitOfMeasure>().join(" "),
            "Wh kWh W kW A V Percent Celsius varh kvarh VA kVA var kvar Fahrenheit K Hz RPM s"
        );
        assert_eq!(
            spellings::<ReadingContext>().join(" "),
            "Sample.Periodic Sample.Clock Transaction.Begin Transaction.End Trigger Interruption.Begin \
             Interruption.End Other"
        );
    }

    #[test]
    fn unknown_codes_are_errors() {
        assert!(decode::<Measurand>(27).is_err());
        assert!(decode::<Location>(-1).is_err());
        assert!(decode_phase(11).is_err());
    }
}
