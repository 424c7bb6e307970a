//! What each category means to a charge point operator: the plain meaning,
//! the causes worth checking first and what to do next. Fixed wording per
//! category; the numbers come from the facts.

use evni_domain::AnomalyCategory;

/// One line saying what the category means.
pub fn meaning(category: AnomalyCategory) -> &'static str {
    use AnomalyCategory::*;
    match category {
        KwhDecrease => "the energy register went down, which a meter that only counts up should never do",
        EnergyJump => "the energy register rose faster than any charger can deliver",
        ZeroSession => "the vehicle was connected but (almost) no energy was delivered",
        EnergyPit => "energy delivery dropped out in the middle of the session and then recovered",
        ChargingExpected => "charging stopped for good while the battery still needed energy",
        PowerSpike => "a single power reading was far above the session's usual level",
        MeterStuck => "the energy register froze while energy was clearly flowing",
        SocDecrease => "the vehicle's state of charge fell during the charge",
        DataGap => "the charger stopped sending meter values for a while and then resumed",
        UnusualPattern => "the session's shape is far from normal sessions and no specific rule explains it",
    }
}

/// Causes a CPO would check, most common first.
pub fn causes(category: AnomalyCategory) -> &'static [&'static str] {
    use AnomalyCategory::*;
    match category {
        KwhDecrease => &[
            "a meter reset or replacement during the session",
            "meter values sent out of order or re-sent from an old buffer",
            "a second meter reporting on the same connector",
        ],
        EnergyJump => &[
            "a unit mix-up (Wh sent as kWh, or the other way round)",
            "a wrong meter multiplier in the charger's configuration",
            "a register swap or reset to another meter's value",
        ],
        ZeroSession => &[
            "the vehicle refusing charge (battery already full, a departure timer or charging schedule set in the car)",
            "a cable, connector or contactor fault",
            "an authorisation that started the transaction but not the charge",
        ],
        EnergyPit => &[
            "load management or a smart-charging profile setting the limit near zero",
            "the vehicle pausing (battery temperature, battery management)",
            "thermal derating or a transient fault of the charger",
        ],
        ChargingExpected => &[
            "a charger fault or protective trip that ended delivery",
            "a charge limit or departure timer set in the vehicle",
            "a smart-charging profile or remote stop that cut power",
        ],
        PowerSpike => &[
            "a measurement glitch of the meter or its firmware",
            "a unit error in one message (W and kW mixed)",
            "a brief inrush current at a phase switch",
        ],
        MeterStuck => &[
            "lost communication between the charger and its meter, so a cached value was repeated",
            "a faulty or frozen meter",
            "charger firmware reporting a stale register",
        ],
        SocDecrease => &[
            "the vehicle reporting SoC inaccurately (battery management recalibration)",
            "energy drawn by the vehicle while charging (preconditioning, climate control) or a V2G discharge not reported as export",
            "SoC readings mixed from another source",
        ],
        DataGap => &[
            "a loss of the charger's backhaul connection (mobile network, router)",
            "a charger reboot",
            "meter values rejected by the backend or lost from the charger's offline buffer",
        ],
        UnusualPattern => &[
            "a vehicle or charger behaving unlike the sessions the model learned from",
            "a fault that none of the specific rules describes",
        ],
    }
}

/// The next step for the operator.
pub fn next_step(category: AnomalyCategory) -> &'static str {
    use AnomalyCategory::*;
    match category {
        KwhDecrease => "check the charger's log for a reboot or meter event at that time and bill from the last trustworthy register value, not the register's net change",
        EnergyJump => "check the meter's unit and multiplier configuration and hold the bill for this session until the energy is confirmed",
        ZeroSession => "check StatusNotification and error codes of the connector for that time and, if it repeats, send a technician to test the cable and contactor",
        EnergyPit => "check the charging profiles and load-management events of that time, and the charger's StatusNotifications (SuspendedEV or SuspendedEVSE)",
        ChargingExpected => "check the StopTransaction reason and the charger's error codes; if the charger ended it, contact the driver and inspect the connector",
        PowerSpike => "compare the spike with the energy register over the same minutes; if the register did not follow, treat it as a measurement error and check the meter firmware",
        MeterStuck => "check the meter's communication with the charger and bill with care: the register under-reports energy for the frozen stretch",
        SocDecrease => "check whether the vehicle reported an export or discharge; if not, treat the SoC readings of this session as unreliable",
        DataGap => "check the charger's heartbeat and connectivity log for that period and whether it flushed its offline buffer of meter values",
        UnusualPattern => "review the session's power and energy curve by hand and give feedback (incident or false positive) so the model improves",
    }
}

/// Short name used in answers, e.g. "energy register decrease".
pub fn label(category: AnomalyCategory) -> &'static str {
    use AnomalyCategory::*;
    match category {
        KwhDecrease => "energy register decrease",
        EnergyJump => "impossible energy jump",
        ZeroSession => "zero-energy session",
        EnergyPit => "mid-session delivery drop-out",
        ChargingExpected => "early stop with the battery not full",
        PowerSpike => "power spike",
        MeterStuck => "frozen energy register",
        SocDecrease => "state-of-charge decrease",
        DataGap => "gap in the meter data",
        UnusualPattern => "unusual pattern",
    }
}
