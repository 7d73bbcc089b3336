"""After the final stage: the final model in other runtimes, for faster scoring.

``onnx`` exports the model to an ONNX graph (PyTorch's own exporter) with the sample and
logits to hold it to; ``openvino`` checks that graph, quantizes it to int8 with NNCF
(``hpo quantize``) and scores with it (``hpo predict --fast``). It sits below ``final`` in
the import order because the final model's predictor serves through it.
"""
