"""Every correction esmlab makes to moto, one module per service, applied only while a Lab is open."""
