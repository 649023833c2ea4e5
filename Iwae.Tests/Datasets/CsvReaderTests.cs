using Iwae.Datasets;
using static Iwae.Tests.Datasets.NpyReaderTests;

namespace Iwae.Tests.Datasets;

public class CsvReaderTests : TempDirTests
{
    [Test]
    public void NoHeader_RowsAndColumns()
    {
        string path = Write("t.csv", "1,2,3\n4,5,6\n");
        var (data, header) = CsvReader.ReadWithHeader(path);
        Assert.That(header, Is.Null);
        Assert.That((data.Name, data.Rows, data.Cols, data.DType), Is.EqualTo(("t.csv", 2, 3, "float64")));
        Assert.That(data.Values, Is.EqualTo(new float[] { 1, 2, 3, 4, 5, 6 }).AsCollection);
    }

    [Test]
    public void Header_IsDetectedAndReturned()
    {
        string path = Write("h.csv", "x, \"y\" ,z1\n1,2,3\n");
        var (data, header) = CsvReader.ReadWithHeader(path);
        Assert.That(header, Is.EqualTo(new[] { "x", "y", "z1" }));
        Assert.That((data.Rows, data.Cols), Is.EqualTo((1, 3)));
        Assert.That(CsvReader.Read(path).Values, Is.EqualTo(new float[] { 1, 2, 3 }).AsCollection);
    }

    [Test]
    public void Crlf_BlankLines_Spaces_Exponents_NoFinalNewline_Bom()
    {
        string path = Write("w.csv", "\uFEFF\r\n a , b \r\n\r\n -1.5e3 , .25\r\n   \r\n+7,0x0\r\n".Replace("0x0", "1E-2") + "3,4");
        var (data, header) = CsvReader.ReadWithHeader(path);
        Assert.That(header, Is.EqualTo(new[] { "a", "b" }));
        Assert.That((data.Rows, data.Cols), Is.EqualTo((3, 2)));
        Assert.That(data.Values, Is.EqualTo(new[] { -1500f, 0.25f, 7f, 0.01f, 3f, 4f }).AsCollection);
    }

    [Test]
    public void HeaderOnly_IsZeroRows()
    {
        var (data, header) = CsvReader.ReadWithHeader(Write("h.csv", "a,b,c\n"));
        Assert.That((data.Rows, data.Cols, header!.Length), Is.EqualTo((0, 3, 3)));
    }

    [Test]
    public void SingleColumn()
    {
        var data = CsvReader.Read(Write("c.csv", "1\n2\n3"));
        Assert.That((data.Rows, data.Cols), Is.EqualTo((3, 1)));
    }

    [Test]
    public void RaggedRows_NameLineAndCounts()
    {
        string path = Write("r.csv", "1,2,3\n4,5,6\n\n7,8\n");
        ThrowsDataFormat(() => CsvReader.Read(path), path, "line 4 has 2 values, expected 3 like line 1");
        string wide = Write("w.csv", "a,b\n1,2\n3,4,5\n");
        ThrowsDataFormat(() => CsvReader.Read(wide), wide, "line 3 has 3 values, expected 2 like the header on line 1");
    }

    [TestCase("1,2\n3,x\n", "line 2, column 2: 'x' is not a number")]
    [TestCase("1,2\n3,4;5\n", "line 2, column 2: '4;5' is not a number")]
    [TestCase("1,2\n3,1,5\n", "line 2 has 3 values, expected 2 like line 1")]
    [TestCase("1,2\nNaN,4\n", "line 2, column 1: 'NaN': NaN and infinity are not accepted")]
    [TestCase("1,-Infinity\n", "line 1, column 2: '-Infinity': NaN and infinity are not accepted")]
    [TestCase("1,2\n3,1e39\n", "line 2, column 2: '1e39' is outside the float32 range")]
    [TestCase("1,,2\n", "line 1, column 2: empty field")]
    [TestCase("1,2\n3,4,\n", "line 2, column 3: empty field")]
    [TestCase("a,b\n1,,\n", "line 2, column 2: empty field")]
    [TestCase("", "no data")]
    [TestCase("\n \r\n\n", "no data")]
    public void BadInput_NamesLineAndColumn(string text, string phrase)
    {
        string path = Write("bad.csv", text);
        ThrowsDataFormat(() => CsvReader.Read(path), path, phrase);
    }

    [Test]
    public void LongField_AndBinaryGarbage_AreRejectedCheaply()
    {
        string longField = Write("long.csv", "1," + new string('1', 10_000) + "\n");
        ThrowsDataFormat(() => CsvReader.Read(longField), longField, "line 1, column 2: field longer than 4096 characters");
        string path = Path.Combine(Dir, "binary.csv");
        File.WriteAllBytes(path, [0, 1, 2, 0xFF, 0xFE, 0x80, (byte)',', 0x1F, 0x8B]);
        ThrowsDataFormat(() => CsvReader.Read(path), path, "line 1, column 1: control character 0x00: not a text file");
        File.WriteAllBytes(path, [(byte)'1', (byte)',', 0xFF, 0xFE, 0x80]);
        ThrowsDataFormat(() => CsvReader.Read(path), path, "line 1, column 2: invalid UTF-8: not a text file");
    }

    [Test]
    public void MissingFile()
    {
        string path = Path.Combine(Dir, "none.csv");
        ThrowsDataFormat(() => CsvReader.Read(path), path, "file not found");
    }
}
