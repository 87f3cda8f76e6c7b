module github.com/mcp-obs/mcp-obs

go 1.26.8
