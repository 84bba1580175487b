from cptkg.faces.cli import main

main()
