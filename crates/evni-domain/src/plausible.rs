//! What a meter can produce. Values outside these bounds are typing or
//! encoding errors (a register of 1e20 kWh, a timestamp in year 1); taken
//! in they would poison the analysis and the stored history, so they are
//! refused with 422. The bounds are generous: a megawatt charger would need
//! a century to count 1e9 kWh.

use crate::meter_value::Quantity;
use crate::ocpp::Measurand;
use crate::Micros;

/// No reading is older than 2000-01-01T00:00:00Z.
pub const EARLIEST_TIMESTAMP: Micros = 946_684_800 * crate::MICROS_PER_SECOND;

/// The closed range a value may take, in analysis units (see
/// [`crate::Reading::normalized`]), and that unit for messages.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bounds {
    pub min: f64,
    pub max: f64,
    pub unit: &'static str,
}

impl Bounds {
    pub fn contains(&self, value: f64) -> bool {
        (self.min..=self.max).contains(&value)
    }

    /// "from -1000000000 to 1000000000 kWh", for the 422.
    pub fn describe(&self) -> String {
        let unit = if self.unit.is_empty() {
            String::new()
        } else {
            format!(" {}", self.unit)
        };
        format!("from {} to {}{unit}", self.min, self.max)
    }
}

/// The plausible range of a measurand's normalised value. Registers and
/// intervals count up from zero (a register that falls, still above zero, is
/// the KWH_DECREASE fault evni reports); only the net measurands can be
/// negative.
pub fn bounds(measurand: Measurand) -> Bounds {
    let b = |min: f64, max: f64, unit: &'static str| Bounds { min, max, unit };
    let net = matches!(
        measurand,
        Measurand::EnergyActiveNet | Measurand::EnergyReactiveNet | Measurand::EnergyApparentNet
    );
    match measurand.quantity() {
        Quantity::ActiveEnergy | Quantity::ApparentEnergy | Quantity::ReactiveEnergy => {
            let unit = if measurand.quantity() == Quantity::ReactiveEnergy {
                "kvarh"
            } else {
                "kWh"
            };
            b(if net { -1e9 } else { 0.0 }, 1e9, unit)
        }
        // Export and vehicle-to-grid flows may be signed.
        Quantity::ActivePower => b(-1e5, 1e5, "kW"),
        Quantity::ReactivePower => b(-1e5, 1e5, "kvar"),
        Quantity::Current => b(-1e5, 1e5, "A"),
        Quantity::Voltage => b(-1e5, 1e5, "V"),
        Quantity::StateOfCharge => b(0.0, 100.0, "%"),
        Quantity::Temperature => b(-273.15, 1000.0, "°C"),
        Quantity::Frequency => b(0.0, 1000.0, "Hz"),
        Quantity::Rotation => b(0.0, 1e6, "rpm"),
        Quantity::Ratio => b(-1.0, 1.0, ""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registers_are_non_negative_and_bounded() {
        let register = bounds(Measurand::EnergyActiveImportRegister);
        assert!(register.contains(0.0) && register.contains(90_772.7));
        assert!(!register.contains(-5.0) && !register.contains(1e20));
        assert!(bounds(Measurand::EnergyActiveNet).contains(-5.0));
        assert!(!bounds(Measurand::EnergyActiveNet).contains(-2e9));
        assert_eq!(register.describe(), "from 0 to 1000000000 kWh");
        assert_eq!(bounds(Measurand::PowerFactor).describe(), "from -1 to 1");
    }

    #[test]
    fn earliest_timestamp_is_the_year_2000() {
        assert_eq!(
            crate::micros_to_datetime(EARLIEST_TIMESTAMP).to_rfc3339(),
            "2000-01-01T00:00:00+00:00"
        );
    }
}
