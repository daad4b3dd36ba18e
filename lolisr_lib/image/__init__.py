"""Images: colour maths (``color.py``), the camera simulator (``degrade.py``) and its calibration against real
captures (``calibration.py``), PNG reading and writing (``io.py``)."""
