"""Scenario functions behind the labs' demos and widgets: parameters in, a result out."""
