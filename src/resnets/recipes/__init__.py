"""Named training recipes, one YAML file each (``resnets train --recipe NAME``)."""
