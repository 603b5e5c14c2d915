"""What only the course uses: lab checks, scenarios, widgets, plots and grading.

The simulator never imports from here."""
