from lmstack.cli import main

main()
