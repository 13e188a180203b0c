from simkeep.cli import main

main()
