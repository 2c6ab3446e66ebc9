"""The standard SR evaluation protocol: HR mod-crop, MATLAB-bicubic LR, metrics on Y."""
