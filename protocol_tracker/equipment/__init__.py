"""The lab's equipment (cabinets, incubators, centrifuges, tanks, freezers) and its
instruments, with calibration and maintenance records; whether a piece may be used now.
"""
