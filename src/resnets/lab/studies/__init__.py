"""The lab's studies, one module each; :mod:`resnets.lab` exports their functions."""
