"""Synthetic extracts in the agencies' published formats, calibrated to real London volumes."""


def __getattr__(name: str):
    # imported lazily so `python -m safestats.synth.calibration` does not load the generator first
    if name == "synthesise_police_uk":
        from safestats.synth.police_uk import synthesise_police_uk
        return synthesise_police_uk
    raise AttributeError(name)


__all__ = ["synthesise_police_uk"]
