//! GaugeController (WIP).
