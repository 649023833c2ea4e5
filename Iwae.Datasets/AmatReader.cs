namespace Iwae.Datasets;

/// <summary>
/// Reads the .amat text files of Larochelle and Murray's binarized MNIST
/// (<c>binarized_mnist_{train,valid,test}.amat</c>): one example per line, its values separated by spaces
/// (784 zeros and ones for MNIST), no header. Any finite number is accepted; blank lines are ignored; LF or
/// CRLF; control characters and invalid UTF-8 are refused as binary. Every problem with the input, including a missing file, throws <see cref="DataFormatException"/>
/// with a one-line message naming the file and, for a bad value, its line and column.
/// </summary>
public static class AmatReader
{
    /// <summary>Reads an .amat file.</summary>
    /// <param name="path">The file, e.g. <c>binarized_mnist_train.amat</c>.</param>
    /// <returns>One row per example, named after the file; DType "float64" (the values are not checked to be 0 or 1).</returns>
    /// <exception cref="DataFormatException">The file is missing, empty, ragged, or holds a field that is not a finite number.</exception>
    public static DataArray Read(string path) => TextTable.Read(path, separator: null, allowHeader: false).Data;
}
