# Copyright 2026 wm_ros developers
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.

"""ament_python setup for wm_ros (also installs with ``pip install -e .``)."""

from glob import glob

from setuptools import find_packages, setup

PACKAGE = 'wm_ros'
NODES = {
    'sim_robot': 'wm_ros.ros.sim_robot_node:main',
    'expert_driver': 'wm_ros.ros.expert_driver_node:main',
    'world_model': 'wm_ros.ros.world_model_node:main',
    'policy': 'wm_ros.ros.policy_node:main',
    'comparator': 'wm_ros.ros.comparator_node:main',
    'planner': 'wm_ros.ros.planner_node:main',
}

setup(
    name=PACKAGE,
    version='0.1.0',
    packages=find_packages(exclude=['test', 'test.*']),
    data_files=[
        ('share/ament_index/resource_index/packages', ['resource/' + PACKAGE]),
        ('share/' + PACKAGE, ['package.xml']),
        ('share/' + PACKAGE + '/launch', glob('launch/*launch.[pxy][yma]*')),
        ('share/' + PACKAGE + '/config', glob('config/*.yaml')),
        ('share/' + PACKAGE + '/rviz', glob('rviz/*.rviz')),
    ],
    # the shipped reference world model (``make model``) travels inside the package
    package_data={PACKAGE: ['models/*/*.json', 'models/*/*.safetensors',
                            'models/*/onnx/*.onnx', 'models/*/onnx/*.json',
                            'models/policies/*/*.json', 'models/policies/*/*.safetensors']},
    install_requires=['setuptools'],
    zip_safe=False,
    maintainer='wm_ros developers',
    maintainer_email='wm-ros@example.com',
    description='A learned world model beside a ROS 2 robot: imagine, shadow, evaluate, plan.',
    license='Apache-2.0',
    tests_require=['pytest'],
    entry_points={
        'console_scripts': [f'{name} = {target}' for name, target in NODES.items()]
        + ['wm-ros = wm_ros.cli:main'],
    },
)
