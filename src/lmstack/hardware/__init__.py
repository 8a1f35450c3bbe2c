"""What this machine is and how fast it runs: device, dtype and thread choice, measurements."""
