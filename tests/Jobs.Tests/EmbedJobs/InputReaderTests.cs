using MlPipelines.Jobs.EmbedJobs;
using MlPipelines.Tests.Support;

namespace MlPipelines.Jobs.Tests.EmbedJobs;

public class InputReaderTests
{
    private static List<string> Read(string content, EmbedInputFormat format, string column = "text")
    {
        using var dir = new TempDir();
        string path = dir.File("input");
        File.WriteAllText(path, content);
        return EmbedInputs.Read(path, format, column).ToList();
    }

    private static string ReadError(string content, EmbedInputFormat format, string column = "text")
    {
        var e = Assert.Throws<InvalidDataException>(() => Read(content, format, column));
        Assert.Contains("input", e.Message);   // names the file
        return e.Message;
    }

    [Fact]
    public void Plain_text_is_one_row_per_line_including_empty_lines()
    {
        Assert.Equal(["a b", "", "c"], Read("a b\r\n\nc\n", EmbedInputFormat.Text));
        Assert.Equal(["no final newline"], Read("no final newline", EmbedInputFormat.Text));
        Assert.Equal(["é ü"], Read("\uFEFFé ü\n", EmbedInputFormat.Text));   // BOM dropped, UTF-8 decoded
    }

    [Fact]
    public void Csv_reads_the_named_column_with_rfc4180_quoting()
    {
        const string csv = "id,text,other\n" +
                           "1,plain,x\r\n" +
                           "2,\"with, comma\",y\n" +
                           "3,\"two\nlines\",z\n" +
                           "4,\"say \"\"hi\"\"\",w\n" +
                           "5,,empty\n" +
                           "\n" +                      // empty lines are skipped
                           "6,a \"quote\" inside,v";   // no final newline; quotes inside an unquoted field are text
        Assert.Equal(["plain", "with, comma", "two\nlines", "say \"hi\"", "", "a \"quote\" inside"], Read(csv, EmbedInputFormat.Csv));
        Assert.Equal(["x", "y", "z", "w", "empty", "v"], Read(csv, EmbedInputFormat.Csv, "other"));
    }

    [Fact]
    public void Csv_errors_name_the_line_and_what_was_expected()
    {
        Assert.Contains("no column 'text' (columns: id, body)", ReadError("id,body\n1,x\n", EmbedInputFormat.Csv));
        Assert.Contains("EmbedJobOptions.Column", ReadError("id,body\n1,x\n", EmbedInputFormat.Csv));
        Assert.Contains("line 3: the record has 3 field(s) but the header has 2", ReadError("id,text\n1,a\n2,b,c\n", EmbedInputFormat.Csv));
        Assert.Contains("line 2: a quoted field is never closed", ReadError("id,text\n1,\"open\n2,b\n", EmbedInputFormat.Csv));
        Assert.Contains("line 2: unexpected 'x' after the closing quote", ReadError("id,text\n1,\"a\"x\n", EmbedInputFormat.Csv));
        Assert.Contains("the file is empty", ReadError("", EmbedInputFormat.Csv));
        // A record after a quoted line break is reported on the line it starts on.
        Assert.Contains("line 4:", ReadError("id,text\n1,\"a\nb\"\n2\n", EmbedInputFormat.Csv));
    }

    [Fact]
    public void Json_lines_read_the_named_string_field()
    {
        const string jsonl = "{\"text\":\"one\",\"n\":1}\n\n  \n{\"n\":2,\"text\":\"two \\\"q\\\"\\n\\u00e9\"}\n";
        Assert.Equal(["one", "two \"q\"\né"], Read(jsonl, EmbedInputFormat.JsonLines));
    }

    [Theory]
    [InlineData("{\"text\":\"ok\"}\n[1,2]\n", "line 2: expected a JSON object with a string field 'text', found an array")]
    [InlineData("{\"text\":\"ok\"}\n\"just a string\"\n", "line 2: expected a JSON object with a string field 'text', found a string")]
    [InlineData("{\"body\":\"x\"}\n", "line 1: the object has no field 'text' (fields: body)")]
    [InlineData("{\"text\":5}\n", "line 1: field 'text' is a number, expected a string")]
    [InlineData("{\"text\":null}\n", "line 1: field 'text' is null, expected a string")]
    [InlineData("{\"text\":\"a\"}\n{\"text\": \n", "line 2: not valid JSON")]
    public void Json_lines_errors_name_the_line_and_what_was_expected(string content, string expected) =>
        Assert.Contains(expected, ReadError(content, EmbedInputFormat.JsonLines));

    [Fact]
    public void A_missing_input_is_a_clear_error()
    {
        var e = Assert.Throws<FileNotFoundException>(() => EmbedInputs.Read("/no/such/input.txt", EmbedInputFormat.Text).ToList());
        Assert.Contains("/no/such/input.txt", e.Message);
    }

    [Theory]
    [InlineData("a.txt", EmbedInputFormat.Text)]
    [InlineData("a.CSV", EmbedInputFormat.Csv)]
    [InlineData("a.jsonl", EmbedInputFormat.JsonLines)]
    [InlineData("a.json", EmbedInputFormat.JsonLines)]
    [InlineData("a", EmbedInputFormat.Text)]
    public void Input_format_follows_the_extension(string path, EmbedInputFormat expected) =>
        Assert.Equal(expected, EmbedFormats.InputFromPath(path));

    [Fact]
    public void Output_format_follows_the_extension_or_is_an_error()
    {
        Assert.Equal(EmbedOutputFormat.Parquet, EmbedFormats.OutputFromPath("x.parquet"));
        Assert.Equal(EmbedOutputFormat.JsonLines, EmbedFormats.OutputFromPath("x.jsonl"));
        Assert.Equal(EmbedOutputFormat.Csv, EmbedFormats.OutputFromPath("x.csv"));
        Assert.Contains("EmbedJobOptions.OutputFormat", Assert.Throws<ArgumentException>(() => EmbedFormats.OutputFromPath("x.bin")).Message);
    }
}
