module scalegen

go 1.22
