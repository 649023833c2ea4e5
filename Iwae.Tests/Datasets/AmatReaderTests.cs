using System.Text;
using Iwae.Datasets;
using static Iwae.Tests.Datasets.NpyReaderTests;

namespace Iwae.Tests.Datasets;

public class AmatReaderTests : TempDirTests
{
    [Test]
    public void MnistShapedLines()
    {
        // Three examples of 784 pixels, written as the Larochelle files are: values and a trailing space.
        var sb = new StringBuilder();
        for (int n = 0; n < 3; n++)
        {
            for (int p = 0; p < 784; p++) sb.Append((n + p) % 3 == 0 ? "1 " : "0 ");
            sb.Append('\n');
        }
        var data = AmatReader.Read(Write("binarized_mnist_valid.amat", sb.ToString()));
        Assert.That((data.Name, data.Rows, data.Cols, data.DType), Is.EqualTo(("binarized_mnist_valid.amat", 3, 784, "float64")));
        Assert.That(data.Values[1 * 784 + 2], Is.EqualTo(1f));
        Assert.That(data.Values[2 * 784 + 2], Is.EqualTo(0f));
        Assert.That(data.Values.Sum(), Is.EqualTo(784f), "a third of the 3 x 784 pixels are on");
    }

    [Test]
    public void Crlf_Tabs_RunsOfSpaces_BlankLines_NoFinalNewline()
    {
        var data = AmatReader.Read(Write("w.amat", "\r\n0  1\t0 \r\n\r\n  1 1 0.5\r\n   \n1 0 0"));
        Assert.That((data.Rows, data.Cols), Is.EqualTo((3, 3)));
        Assert.That(data.Values, Is.EqualTo(new[] { 0f, 1f, 0f, 1f, 1f, 0.5f, 1f, 0f, 0f }).AsCollection);
    }

    [TestCase("0 1 0\n1 1\n", "line 2 has 2 values, expected 3 like line 1")]
    [TestCase("0 1 0\n\n1 1 0 1\n", "line 3 has 4 values, expected 3 like line 1")]
    [TestCase("0 1\n1 b\n", "line 2, column 2: 'b' is not a number")]
    [TestCase("x y\n0 1\n", "line 1, column 1: 'x' is not a number")]
    [TestCase("0,1\n", "line 1, column 1: '0,1' is not a number")]
    [TestCase("0 nan\n", "line 1, column 2: 'nan': NaN and infinity are not accepted")]
    [TestCase("", "no data")]
    public void BadInput_NamesLineAndColumn(string text, string phrase)
    {
        string path = Write("bad.amat", text);
        ThrowsDataFormat(() => AmatReader.Read(path), path, phrase);
    }
}
