"""What ties materials and equipment to a run: lot consumption by a stage run or a bench task, and
equipment used by a stage run, with the gating rules checked at the moment of use.
"""
