//! OCPP 1.6 / 2.0.1 enumerations. Matched case-insensitively on input,
//! always written in their canonical OCPP spelling.

use serde::{Serialize, Serializer};

/// Declares a closed OCPP enumeration with its canonical spellings.
macro_rules! ocpp_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name { $($variant),+ }

        impl $name {
            /// Every accepted value, in canonical spelling.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            /// Case-insensitive lookup of an OCPP spelling.
            pub fn parse(text: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|v| v.as_str().eq_ignore_ascii_case(text))
            }

            /// The accepted spellings, for error messages.
            pub fn accepted() -> Vec<&'static str> {
                Self::ALL.iter().map(|v| v.as_str()).collect()
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }
    };
}

ocpp_enum! {
    /// What a meter value measures (OCPP 1.6 and 2.0.1 Measurand).
    Measurand {
        CurrentExport => "Current.Export",
        CurrentImport => "Current.Import",
        CurrentOffered => "Current.Offered",
        EnergyActiveExportRegister => "Energy.Active.Export.Register",
        EnergyActiveImportRegister => "Energy.Active.Import.Register",
        EnergyReactiveExportRegister => "Energy.Reactive.Export.Register",
        EnergyReactiveImportRegister => "Energy.Reactive.Import.Register",
        EnergyActiveExportInterval => "Energy.Active.Export.Interval",
        EnergyActiveImportInterval => "Energy.Active.Import.Interval",
        EnergyActiveNet => "Energy.Active.Net",
        EnergyReactiveExportInterval => "Energy.Reactive.Export.Interval",
        EnergyReactiveImportInterval => "Energy.Reactive.Import.Interval",
        EnergyReactiveNet => "Energy.Reactive.Net",
        EnergyApparentNet => "Energy.Apparent.Net",
        EnergyApparentImport => "Energy.Apparent.Import",
        EnergyApparentExport => "Energy.Apparent.Export",
        Frequency => "Frequency",
        PowerActiveExport => "Power.Active.Export",
        PowerActiveImport => "Power.Active.Import",
        PowerFactor => "Power.Factor",
        PowerOffered => "Power.Offered",
        PowerReactiveExport => "Power.Reactive.Export",
        PowerReactiveImport => "Power.Reactive.Import",
        Rpm => "RPM",
        SoC => "SoC",
        Temperature => "Temperature",
        Voltage => "Voltage",
    }
}

ocpp_enum! {
    /// OCPP UnitOfMeasure (1.6 list plus the 2.0.1 additions).
    UnitOfMeasure {
        Wh => "Wh",
        KWh => "kWh",
        Varh => "varh",
        Kvarh => "kvarh",
        W => "W",
        KW => "kW",
        VA => "VA",
        KVA => "kVA",
        Var => "var",
        Kvar => "kvar",
        A => "A",
        V => "V",
        Celsius => "Celsius",
        Fahrenheit => "Fahrenheit",
        K => "K",
        Percent => "Percent",
        Hz => "Hz",
        Rpm => "RPM",
        S => "s",
    }
}

ocpp_enum! {
    /// OCPP Phase.
    Phase {
        L1 => "L1",
        L2 => "L2",
        L3 => "L3",
        N => "N",
        L1N => "L1-N",
        L2N => "L2-N",
        L3N => "L3-N",
        L1L2 => "L1-L2",
        L2L3 => "L2-L3",
        L3L1 => "L3-L1",
    }
}

ocpp_enum! {
    /// OCPP Location of the measurement.
    Location {
        Body => "Body",
        Cable => "Cable",
        Ev => "EV",
        Inlet => "Inlet",
        Outlet => "Outlet",
    }
}

ocpp_enum! {
    /// OCPP ReadingContext: why the charger took the reading.
    ReadingContext {
        InterruptionBegin => "Interruption.Begin",
        InterruptionEnd => "Interruption.End",
        Other => "Other",
        SampleClock => "Sample.Clock",
        SamplePeriodic => "Sample.Periodic",
        TransactionBegin => "Transaction.Begin",
        TransactionEnd => "Transaction.End",
        Trigger => "Trigger",
    }
}

impl Phase {
    /// Line-to-neutral or single line phases carry a share of the total:
    /// their power and current add up. Line-to-line voltages do not.
    pub fn is_line(self) -> bool {
        matches!(
            self,
            Phase::L1 | Phase::L2 | Phase::L3 | Phase::L1N | Phase::L2N | Phase::L3N
        )
    }
}

impl Measurand {
    /// The physical quantity of this measurand, which fixes its units.
    pub fn quantity(self) -> crate::Quantity {
        use crate::Quantity as Q;
        use Measurand::*;
        match self {
            EnergyActiveExportRegister
            | EnergyActiveImportRegister
            | EnergyActiveExportInterval
            | EnergyActiveImportInterval
            | EnergyActiveNet => Q::ActiveEnergy,
            EnergyReactiveExportRegister
            | EnergyReactiveImportRegister
            | EnergyReactiveExportInterval
            | EnergyReactiveImportInterval
            | EnergyReactiveNet => Q::ReactiveEnergy,
            EnergyApparentNet | EnergyApparentImport | EnergyApparentExport => Q::ApparentEnergy,
            PowerActiveExport | PowerActiveImport | PowerOffered => Q::ActivePower,
            PowerReactiveExport | PowerReactiveImport => Q::ReactivePower,
            CurrentExport | CurrentImport | CurrentOffered => Q::Current,
            Voltage => Q::Voltage,
            SoC => Q::StateOfCharge,
            Temperature => Q::Temperature,
            Frequency => Q::Frequency,
            Rpm => Q::Rotation,
            PowerFactor => Q::Ratio,
        }
    }
}
